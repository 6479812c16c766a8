import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import { debuglog } from 'node:util'
import { Connection } from '../net/connection.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { HeldFile, SegmentStore } from '../storage/store.ts'
import { Bitfield } from '../storage/bitfield.ts'
import { encodeMessage, HASH_BYTES, MAX_HOLD_US, type Message } from '../protocol/messages.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import { segmentBuffers } from '../util/buffer-pool.ts'

const log = debuglog('dfss:upload')

/** See Uploader.turnKey. */
const REPEAT_PENALTY_MS = 200
/** At most this many earlier uploads count: a request waits at most 1 s more than in arrival order, far below the 15 s request timeout. */
const REPEAT_PENALTY_CAP = 5

/** Options of {@link Uploader}. */
export interface UploaderOptions {
  /** Our id in handshakes. */
  id: number
  /** Swarm secret. Default null. */
  secret?: string | null
  /** Most simultaneous incoming connections. Default 256. */
  maxConnections?: number
  /** Most unanswered segment requests one connection may have queued. Default 64. */
  maxRequestsPerConnection?: number
  /** Close connections idle this long; 0 = never. Default 120 000 ms. */
  idleTimeoutMs?: number
  /** Handshake time limit. Default 10 000 ms. */
  handshakeTimeoutMs?: number
  /** Shared upload rate limit. Default none. */
  limiter?: RateLimiter | null
  /**
   * Super-seeding: while a file we owned whole from the start still has segments we never uploaded, a request for one
   * we already uploaded gets "don't have it now", so the requester takes it from the peer that got it
   * and our upload goes to new segments. Default true.
   */
  superSeed?: boolean
  /**
   * True when peer `peer` is known to hold segment `index` of `file` (what we learnt downloading from
   * it): a HAVE for it would tell that peer nothing it can use, since it never asks for a segment it
   * holds. Default: nobody is known to hold anything.
   */
  peerHolds?: (peer: number, file: string, index: number) => boolean
}

/** A segment request and performance.now() when it arrived (the CHUNK reports how long it waited here). */
type Queued = Extract<Message, { type: 'req-chunk' }> & { arrivedMs: number }

interface Served {
  conn: Connection
  queue: Queued[]
  busy: boolean
  subscribed: Set<string>
  /** Segments ("index\0file") super-seeding refused to this connection once. */
  refused: Set<string>
}

/**
 * The uploading side of a peer: answers REQ_CHUNK from the store (or "don't have it"), serves have-maps
 * and pushes HAVE to subscribers (not for segments they are known to hold). Serves each connection's
 * requests in order, waiting for the socket to drain, so memory per connection stays around one
 * segment. Emits `warning`.
 */
export class Uploader extends EventEmitter {
  uploads = 0
  /** performance.now() of the last segment request; -Infinity before the first. */
  lastRequestMs = Number.NEGATIVE_INFINITY
  private readonly store: SegmentStore
  private readonly server: net.Server
  private readonly served = new Set<Served>()
  private readonly opts: Required<UploaderOptions>

  constructor (store: SegmentStore, opts: UploaderOptions) {
    super()
    this.store = store
    this.opts = {
      id: opts.id,
      secret: opts.secret ?? null,
      maxConnections: opts.maxConnections ?? 256,
      maxRequestsPerConnection: opts.maxRequestsPerConnection ?? 64,
      idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000,
      limiter: opts.limiter ?? null,
      superSeed: opts.superSeed ?? true,
      peerHolds: opts.peerHolds ?? (() => false)
    }
    this.server = net.createServer({ noDelay: true }, socket => { this.accept(socket) })
    this.ownedAtStart = new Set(store.owned().map(m => m.name))
  }

  /**
   * Files we had whole from the start: only these are super-seeded. A file we downloaded is one copy
   * among many; refusing repeats of it only sends the last peers of a swarm elsewhere.
   */
  private readonly ownedAtStart: Set<string>

  /** Sets the id used in later handshakes (real mode learns it from the tracker's ACK). */
  setId (id: number): void { this.opts.id = id }

  async listen (host: string, port: number): Promise<{ host: string, port: number }> {
    this.server.listen(port, host)
    await once(this.server, 'listening')
    const a = this.server.address() as net.AddressInfo
    return { host: a.address, port: a.port }
  }

  get connections (): number { return this.served.size }

  /** Segment requests queued or being sent, over all connections. */
  get pendingRequests (): number {
    let n = 0
    for (const s of this.served) n += s.queue.length + (s.busy ? 1 : 0)
    return n
  }

  /** Sockets still in the handshake: they count against maxConnections too. */
  private handshaking = 0

  private accept (socket: net.Socket): void {
    socket.on('error', () => {})
    if (this.served.size + this.handshaking >= this.opts.maxConnections) {
      Connection.refuseAtLimit(socket, `peer ${this.opts.id}`, this.opts.maxConnections)
      return
    }
    this.handshaking++
    Connection.establish(socket, {
      role: 'peer',
      id: this.opts.id,
      secret: this.opts.secret,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      idleTimeoutMs: this.opts.idleTimeoutMs
    }).then(conn => { this.handshaking--; this.attach(conn) }, (err: Error) => { this.handshaking--; this.emit('warning', err) })
  }

  private attach (conn: Connection): void {
    const s: Served = { conn, queue: [], busy: false, subscribed: new Set(), refused: new Set() }
    this.served.add(s)
    conn.on('message', (msg: Message) => {
      try { this.route(s, msg) } catch (err) { this.emit('warning', err); conn.fail(err as Error) }
    })
    conn.on('close', () => { this.served.delete(s) })
    conn.start()
  }

  private route (s: Served, msg: Message): void {
    switch (msg.type) {
      case 'req-chunk':
        this.lastRequestMs = performance.now()
        if (s.queue.length >= this.opts.maxRequestsPerConnection) {
          throw new ProtocolError('ERR_LIMIT', `more than ${this.opts.maxRequestsPerConnection} requests in flight`)
        }
        s.queue.push({ ...msg, arrivedMs: this.lastRequestMs })
        if (!s.busy) this.serve(s).catch((err: Error) => { this.emit('warning', err); s.conn.fail(err) })
        return
      case 'req-have': {
        const f = this.store.held(msg.file)
        s.subscribed.add(msg.file)
        const count = f === undefined ? 0 : f.meta.hashes.length / 32
        s.conn.send({ type: 'have-map', file: msg.file, count, bits: f === undefined ? Buffer.alloc(0) : Buffer.from(f.haveBits()) })
        return
      }
      default:
        throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from a downloading peer`)
    }
  }

  /** Starts reading the segment a request asks for; null data = we do not have it. */
  /** Per whole file: which segments went out once, and over which connection. */
  private readonly firstPass = new Map<string, { sent: Bitfield, to: Array<Served | undefined> }>()

  /**
   * Super-seeding: false when the segment already went out once, some segment of the file never did,
   * the peer that got it is still connected (so it can pass it on), and this requester was not refused
   * this segment before. The last two keep it live: nobody waits on a segment only we can give.
   */
  private worthSending (s: Served, f: HeldFile, index: number): boolean {
    if (!this.opts.superSeed || !f.whole || !this.ownedAtStart.has(f.meta.name)) return true
    let pass = this.firstPass.get(f.meta.name)
    if (pass === undefined) {
      const n = f.meta.hashes.length / HASH_BYTES
      pass = { sent: new Bitfield(n), to: new Array<Served | undefined>(n) }
      this.firstPass.set(f.meta.name, pass)
    }
    if (pass.sent.full || pass.sent.set(index)) {
      pass.to[index] ??= s
      return true
    }
    const holder = pass.to[index]
    const key = `${index}\0${f.meta.name}`
    if (holder === undefined || holder === s || !this.served.has(holder) || s.refused.has(key)) {
      log('segment %d of %s again to peer %d: %s', index, f.meta.name, s.conn.remote.id, holder === s ? 'same peer' : holder === undefined || !this.served.has(holder) ? 'first holder gone' : 'asked again')
      return true
    }
    s.refused.add(key)
    return false
  }

  private fetch (s: Served, req: Queued): Promise<{ req: Queued, data: Buffer | null }> {
    const f = this.store.held(req.file)
    if (f === undefined || !f.has(req.index) || !this.worthSending(s, f, req.index)) return Promise.resolve({ req, data: null })
    const p = f.read(req.index).then(data => ({ req, data }))
    p.catch(() => {}) // a prefetch dropped when the connection closes must not become an unhandled rejection
    return p
  }

  /**
   * Serves one connection's requests in order. The next segment is read from disk while the current one
   * is being sent, so the disk and the socket overlap; at most two segments per connection are in memory.
   */
  private async serve (s: Served): Promise<void> {
    s.busy = true
    try {
      let next: ReturnType<Uploader['fetch']> | null = null
      while (s.conn.status === 'active') {
        if (next === null) {
          const req = s.queue.shift()
          if (req === undefined) break
          next = this.fetch(s, req)
        }
        const { req, data } = await next
        const follow = s.queue.shift()
        next = follow === undefined ? null : this.fetch(s, follow)
        if (data === null) {
          s.conn.send({ type: 'no-chunk', reqId: req.reqId })
          continue
        }
        if (this.opts.limiter !== null) await this.opts.limiter.take(data.length, this.turnKey(req.file, req.index))
        this.uploads++
        const holdUs = Math.min(MAX_HOLD_US, Math.round((performance.now() - req.arrivedMs) * 1000))
        if (!s.conn.send({ type: 'chunk', reqId: req.reqId, index: req.index, holdUs, data }, () => { segmentBuffers.give(data) })) await s.conn.drained()
      }
    } finally {
      s.busy = false
    }
  }

  /** Per file: how many times each segment went out from here (capped at 255). */
  private readonly sentCounts = new Map<string, Uint8Array>()

  /**
   * When the upload cap makes requests wait, the one for a segment we sent least often goes first:
   * each earlier upload of it (up to REPEAT_PENALTY_CAP) counts as REPEAT_PENALTY_MS of lateness. A
   * segment that just arrived spreads before ones that many peers hold already, which shortens the end
   * of a capped swarm; the cap keeps the extra wait of any request at 1 s.
   */
  private turnKey (file: string, index: number): number {
    let counts = this.sentCounts.get(file)
    if (counts === undefined) {
      const f = this.store.held(file)
      counts = new Uint8Array(f === undefined ? 0 : f.meta.hashes.length / HASH_BYTES)
      this.sentCounts.set(file, counts)
    }
    const sent = counts[index] ?? 0
    if (index < counts.length && sent < 255) counts[index] = sent + 1
    return performance.now() + Math.min(sent, REPEAT_PENALTY_CAP) * REPEAT_PENALTY_MS
  }

  /** Segments stored during this turn of the event loop, per file, not yet announced. */
  private readonly unannounced = new Map<string, number[]>()

  /**
   * Tells every subscriber of `file` that we now have segment `index`, unless it is known to hold it
   * (`peerHolds`). The segments of one event-loop turn go out together, one HAVE (or HAVES) per
   * subscriber: HAVEs outnumber segments several times over in a crowd, and each message costs both
   * ends.
   */
  announce (file: string, index: number): void {
    if (this.unannounced.size === 0) setImmediate(() => { this.flushAnnouncements() })
    const list = this.unannounced.get(file)
    if (list === undefined) this.unannounced.set(file, [index])
    else list.push(index)
  }

  private flushAnnouncements (): void {
    for (const [file, indexes] of this.unannounced) {
      let all: Buffer[] | null = null // one encoding for every subscriber that needs the whole list
      for (const s of this.served) {
        if (!s.subscribed.has(file)) continue
        const peer = s.conn.remote.id
        const news = indexes.filter(i => !this.opts.peerHolds(peer, file, i))
        if (news.length === 0) continue
        if (news.length < indexes.length) s.conn.sendEncoded(encodeHaves(file, news))
        else s.conn.sendEncoded(all ??= encodeHaves(file, indexes))
      }
    }
    this.unannounced.clear()
  }

  /** Stops listening and closes every connection (see Connection.close). */
  async close (now = false): Promise<void> {
    this.server.close()
    await Promise.all([...this.served].map(async s => { await s.conn.close(now) }))
  }
}

/** One HAVE, or a HAVES for several segments of `file`. */
function encodeHaves (file: string, indexes: number[]): Buffer[] {
  return encodeMessage(indexes.length === 1 ? { type: 'have', index: indexes[0] as number, file } : { type: 'haves', file, indexes })
}
