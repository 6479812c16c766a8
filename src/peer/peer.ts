import { EventEmitter } from 'node:events'
import type { FileMeta, Transfer } from '../protocol/messages.ts'
import type { SegmentStore } from '../storage/store.ts'
import { RateLimiter } from '../util/rate-limiter.ts'
import { Downloader, type DownloaderOptions } from './downloader.ts'
import { PeerPool } from './peer-pool.ts'
import { TrackerLink } from './tracker-link.ts'
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
  /** Upload rate limit in bytes per second. Default none. */
  uploadLimit?: number | null
  maxConnections?: number
  maxRequestsPerConnection?: number
  handshakeTimeoutMs?: number
  download?: Partial<DownloaderOptions> & Pick<DownloaderOptions, 'verify'>
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

  constructor (opts: PeerNodeOptions) {
    super()
    this.opts = opts
    this.id = opts.rank
    const limiter = opts.uploadLimit != null ? new RateLimiter(opts.uploadLimit) : null
    this.uploader = new Uploader(opts.store, {
      id: opts.rank,
      secret: opts.secret ?? null,
      limiter,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxRequestsPerConnection !== undefined ? { maxRequestsPerConnection: opts.maxRequestsPerConnection } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {})
    })
    this.uploader.on('warning', (e: Error) => this.emit('warning', e))
    this.pool = new PeerPool({ id: () => this.id, secret: opts.secret ?? null, ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}) })
  }

  /** Starts serving, connects to the tracker and registers `owned` with `wants`; resolves after the ACK. */
  async start (wants: string[] = []): Promise<void> {
    const listenHost = this.opts.listenHost ?? '127.0.0.1'
    const addr = await this.uploader.listen(listenHost, this.opts.listenPort ?? 0)
    const wildcard = listenHost === '0.0.0.0' || listenHost === '::'
    const advertise = this.opts.advertiseHost ?? (wildcard ? '' : addr.host)
    this.tracker = await TrackerLink.connect(this.opts.tracker.host, this.opts.tracker.port, {
      id: this.opts.rank,
      secret: this.opts.secret ?? null,
      uploads: () => this.uploader.uploads,
      ...(this.opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: this.opts.handshakeTimeoutMs } : {})
    })
    this.tracker.on('lost', (e: Error) => this.emit('tracker-lost', e))
    this.tracker.on('close-request', () => this.emit('close-request'))
    const owned: FileMeta[] = this.opts.store.owned()
    this.id = await this.tracker.register(advertise, addr.port, owned, wants)
    this.uploader.setId(this.id)
    this.downloader = new Downloader({
      tracker: this.tracker,
      store: this.opts.store,
      pool: this.pool,
      announce: (file, index) => { this.uploader.announce(file, index) },
      selfId: () => this.id
    }, this.opts.download ?? { verify: () => false })
    this.downloader.on('warning', (e: Error) => this.emit('warning', e))
  }

  /** Downloads every named file at once; rejects on the first that cannot be had. */
  async downloadAll (names: string[]): Promise<void> {
    const d = this.downloader
    if (d === null) throw new Error('start() first')
    await Promise.all(names.map(async n => { await d.download(n) }))
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

  async stop (): Promise<void> {
    await Promise.all([this.uploader.close(), this.pool.close(), this.tracker?.close()])
    await this.opts.store.close()
  }
}
