import { EventEmitter } from 'node:events'
import type { FileMeta, Transfer } from '../protocol/messages.ts'
import type { SegmentStore } from '../storage/store.ts'
import { RateLimiter } from '../util/rate-limiter.ts'
import { Downloader, type DownloaderOptions, type TrackerApi } from './downloader.ts'
import { lingerWhileNeeded, type LingerEnd, type LingerOptions } from './linger.ts'
import { PeerPool } from './peer-pool.ts'
import { TrackerLink, TrackerRefusedError } from './tracker-link.ts'
import { Uploader } from './uploader.ts'

/** Options of {@link PeerNode}. */
export interface PeerNodeOptions {
  store: SegmentStore
  tracker: { host: string, port: number }
  /** Classic rank (also our id); 0 in real mode, where the tracker assigns the id. */
  rank: number
  /** Address our segment server binds. Default 127.0.0.1. */
  listenHost?: string
  /** Port our segment server binds. Default 0 (any free port). */
  listenPort?: number
  /** Address other peers should dial; '' lets the tracker use the address it sees. Default: listenHost unless it is a wildcard. */
  advertiseHost?: string
  secret?: string | null
  /** Super-seeding of whole files (see UploaderOptions.superSeed). Default true. */
  superSeed?: boolean
  /** Upload rate limit in bytes per second. Default none. */
  uploadLimit?: number | null
  maxConnections?: number
  maxRequestsPerConnection?: number
  /** Close incoming peer connections idle this long. Default 120 000 ms. */
  idleTimeoutMs?: number
  handshakeTimeoutMs?: number
  download?: Partial<DownloaderOptions> & Pick<DownloaderOptions, 'verify'>
  /**
   * Real mode: when the tracker connection is lost, reconnect with exponential backoff (100 ms up to
   * 5 s), register again and carry on, for at most this long. 0 = the loss is fatal (classic mode). Default 0.
   */
  reconnectForMs?: number
}

/**
 * One peer: serves segments from the start until stopped, registers with the tracker and downloads.
 * The same node runs classic ranks, `dfss share` and `dfss get`; only the store differs.
 */
export class PeerNode extends EventEmitter {
  readonly uploader: Uploader
  readonly pool: PeerPool
  tracker: TrackerLink | null = null
  downloader: Downloader | null = null
  id: number
  private readonly opts: PeerNodeOptions
  /** Registrations with a tracker so far (more than one after the tracker was lost and found again). */
  private registrations = 0

  constructor (opts: PeerNodeOptions) {
    super()
    this.opts = opts
    this.id = opts.rank
    const limiter = opts.uploadLimit != null ? new RateLimiter(opts.uploadLimit) : null
    this.uploader = new Uploader(opts.store, {
      id: opts.rank,
      secret: opts.secret ?? null,
      limiter,
      superSeed: opts.superSeed ?? true,
      // What our downloads learnt of each source's segments (resolved per call: the downloader comes
      // later). Only while we have registered once: a restarted tracker numbers the peers anew, and a
      // connection opened under an old id could be matched with another peer's segments.
      peerHolds: (peer, file, index) => this.registrations === 1 && (this.downloader?.sourceHolds(peer, file, index) ?? false),
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxRequestsPerConnection !== undefined ? { maxRequestsPerConnection: opts.maxRequestsPerConnection } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {})
    })
    this.uploader.on('warning', (e: Error) => this.emit('warning', e))
    this.pool = new PeerPool({ id: () => this.id, secret: opts.secret ?? null, ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}) })
  }

  private advertise = ''
  private listenPort = 0
  private wants: string[] = []
  private reconnecting: Promise<TrackerLink> | null = null
  private stopped = false

  /** Starts serving, connects to the tracker and registers `owned` with `wants`; resolves after the ACK. */
  async start (wants: string[] = []): Promise<void> {
    const listenHost = this.opts.listenHost ?? '127.0.0.1'
    const addr = await this.uploader.listen(listenHost, this.opts.listenPort ?? 0)
    const wildcard = listenHost === '0.0.0.0' || listenHost === '::'
    this.advertise = this.opts.advertiseHost ?? (wildcard ? '' : addr.host)
    this.listenPort = addr.port
    this.wants = wants
    await this.connectTracker()
    const api: TrackerApi = {
      swarm: async (file, withMeta) => await this.withTracker(async t => await t.swarm(file, withMeta)),
      fileDone: file => { this.tracker?.fileDone(file) }
    }
    this.downloader = new Downloader({
      tracker: api,
      store: this.opts.store,
      pool: this.pool,
      announce: (file, index) => { this.uploader.announce(file, index) },
      selfId: () => this.id
    }, this.opts.download ?? { verify: () => false })
    this.downloader.on('warning', (e: Error) => this.emit('warning', e))
  }

  /** Connects to the tracker and registers what the store holds whole (owned and completed downloads). */
  private async connectTracker (): Promise<TrackerLink> {
    const link = await TrackerLink.connect(this.opts.tracker.host, this.opts.tracker.port, {
      id: this.opts.rank,
      secret: this.opts.secret ?? null,
      uploads: () => this.uploader.uploads,
      ...(this.opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.opts.handshakeTimeoutMs } : {})
    })
    link.on('close-request', () => this.emit('close-request'))
    link.on('lost', (e: Error) => { this.onTrackerLost(link, e) })
    this.tracker = link
    const owned: FileMeta[] = this.opts.store.owned()
    this.id = await link.register(this.advertise, this.listenPort, owned, this.wants)
    this.registrations++
    this.uploader.setId(this.id)
    return link
  }

  private onTrackerLost (link: TrackerLink, err: Error): void {
    if (this.tracker !== link || this.stopped) return
    if ((this.opts.reconnectForMs ?? 0) <= 0 || err instanceof TrackerRefusedError) {
      this.emit('tracker-lost', err)
      return
    }
    this.emit('warning', new Error(`lost the tracker (${err.message}); reconnecting`))
    this.reconnecting ??= this.reconnect().finally(() => { this.reconnecting = null })
    this.reconnecting.catch((e: Error) => { this.emit('tracker-lost', e) })
  }

  /** Reconnects with exponential backoff until `reconnectForMs` runs out. */
  private async reconnect (): Promise<TrackerLink> {
    const deadline = performance.now() + (this.opts.reconnectForMs ?? 0)
    let delay = 100
    let last: Error = new Error('tracker lost')
    while (!this.stopped && performance.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - performance.now()))))
      if (this.stopped) break
      delay = Math.min(5000, delay * 2)
      try {
        const link = await this.connectTracker()
        this.emit('tracker-reconnected', this.id)
        return link
      } catch (err) {
        last = err as Error
        if (err instanceof TrackerRefusedError) throw err
      }
    }
    throw new Error(`could not reach the tracker again within ${this.opts.reconnectForMs ?? 0} ms: ${last.message}`)
  }

  /** Runs a tracker request, waiting for a reconnection and retrying when the connection drops meanwhile. */
  private async withTracker<T> (fn: (t: TrackerLink) => Promise<T>): Promise<T> {
    for (;;) {
      const t = this.reconnecting !== null ? await this.reconnecting : this.tracker
      if (t === null) throw new Error('not connected to the tracker')
      try {
        return await fn(t)
      } catch (err) {
        if (err instanceof TrackerRefusedError || (this.opts.reconnectForMs ?? 0) <= 0 || this.stopped) throw err
        if (this.reconnecting === null && this.tracker === t) throw err
      }
    }
  }

  /** Downloads every named file at once; rejects on the first that cannot be had. */
  async downloadAll (names: string[]): Promise<void> {
    const d = this.downloader
    if (d === null) throw new Error('start() first')
    await Promise.all(names.map(async n => { await d.download(n) }))
  }

  /**
   * After the downloads: keeps serving while peers still download `files` and ask us for segments
   * (see linger.ts). Resolves with why it stopped.
   */
  async linger (files: readonly string[], opts: LingerOptions, stop: Promise<unknown>): Promise<LingerEnd> {
    return await lingerWhileNeeded({
      swarm: async file => await this.withTracker(async t => await t.swarm(file, false)),
      lastRequestMs: () => this.uploader.lastRequestMs,
      pendingRequests: () => this.uploader.pendingRequests
    }, files, opts, stop)
  }

  /** Segments received per source and file. */
  transfers (): Transfer[] { return this.downloader?.transfers() ?? [] }

  /** Reports CLIENT_FIN (all wants done) with the per-source tally. */
  reportFinished (): void { this.tracker?.clientFin(this.transfers()) }

  /** Resolves when the tracker sends CLOSE; rejects if the tracker connection is lost first. */
  async whenCloseRequested (): Promise<void> {
    const t = this.tracker
    if (t === null) throw new Error('start() first')
    if (t.closeRequested) return
    await new Promise<void>((resolve, reject) => {
      t.once('close-request', resolve)
      t.once('lost', reject)
    })
  }

  /**
   * Closes every connection and the store. Once the tracker has closed the swarm (CLOSE: every peer
   * has all it wanted), connections are dropped at once: waiting for each remote's end of each
   * connection, as a close otherwise does, waits for every neighbour to be scheduled, which on a
   * machine running a whole swarm is most of the swarm's shutdown (see the README's flash crowd).
   */
  async stop (): Promise<void> {
    this.stopped = true
    const now = this.tracker?.closeRequested === true
    await Promise.all([this.uploader.close(now), this.pool.close(now), this.tracker?.close(now)])
    await this.opts.store.close()
  }
}
