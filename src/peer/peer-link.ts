import { EventEmitter } from 'node:events'
import { Connection } from '../net/connection.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { Message } from '../protocol/messages.ts'
import { LinkPacing } from './link-pacing.ts'

/** Outcome of one segment request; `digest`: SHA-256 of `data` computed as it arrived (Connection.frameDigest), or null. */
export type ChunkResult = { kind: 'data', data: Buffer, digest: Buffer | null } | { kind: 'no' } | { kind: 'failed', error: Error }

interface Pending { index: number, file: string, sentMs: number, resolve: (r: ChunkResult) => void, timer: NodeJS.Timeout }

/**
 * The downloading side of a connection to another peer: segment requests with timeouts and the
 * have-map subscription. Emits `have-map` (file, count, bits), `have` (file, index) and `close`.
 */
export class PeerLink extends EventEmitter {
  readonly id: number
  readonly conn: Connection
  private nextReq = 1
  private readonly pending = new Map<number, Pending>()
  /** Round trip and service time of this source, from its answers (how deep a pipeline it needs). */
  readonly pacing = new LinkPacing()
  closed = false

  constructor (id: number, conn: Connection) {
    super()
    this.id = id
    this.conn = conn
    conn.on('message', (msg: Message) => {
      try { this.route(msg) } catch (err) { conn.fail(err as Error) }
    })
    conn.on('close', (err?: Error) => {
      this.closed = true
      const e = err ?? new Error(`peer ${id} closed the connection`)
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.resolve({ kind: 'failed', error: e }) }
      this.pending.clear()
      this.emit('close', e)
    })
    conn.start()
  }

  get inFlight (): number { return this.pending.size }

  /** Requests beyond the base pipeline this source needs over this link's round trip, at most `cap` (see LinkPacing). */
  extraRequests (cap: number): number { return this.pacing.extraRequests(cap) }

  private route (msg: Message): void {
    switch (msg.type) {
      case 'chunk':
      case 'no-chunk': {
        const p = this.pending.get(msg.reqId)
        if (p === undefined) return // answer to a request that timed out: ignore
        this.pending.delete(msg.reqId)
        clearTimeout(p.timer)
        if (msg.type === 'no-chunk') p.resolve({ kind: 'no' })
        else if (msg.index !== p.index) p.resolve({ kind: 'failed', error: new ProtocolError('ERR_BAD_FIELD', `asked for segment ${p.index}, got ${msg.index}`) })
        else {
          this.pacing.record(p.sentMs, this.conn.frameStartMs, performance.now(), msg.holdUs / 1000)
          p.resolve({ kind: 'data', data: msg.data, digest: this.conn.frameDigest })
        }
        return
      }
      case 'have-map': this.emit('have-map', msg.file, msg.count, msg.bits); return
      case 'have': this.emit('have', msg.file, msg.index); return
      case 'haves': for (const i of msg.indexes) this.emit('have', msg.file, i); return
      default:
        throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from a serving peer`)
    }
  }

  /** Requests one segment; never rejects. */
  async request (file: string, index: number, timeoutMs: number): Promise<ChunkResult> {
    if (this.closed) return { kind: 'failed', error: new Error(`peer ${this.id} is disconnected`) }
    const reqId = this.nextReq++
    return await new Promise<ChunkResult>(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId)
        resolve({ kind: 'failed', error: new ProtocolError('ERR_TIMEOUT', `segment ${index} of "${file}" from peer ${this.id} timed out after ${timeoutMs} ms`) })
      }, timeoutMs)
      this.pending.set(reqId, { index, file, sentMs: performance.now(), resolve, timer })
      this.conn.send({ type: 'req-chunk', reqId, index, file })
    })
  }

  /** Asks for the file's have-map and its later HAVE updates. */
  subscribe (file: string): void { this.conn.send({ type: 'req-have', file }) }

  /** Closes the connection (see Connection.close). */
  async close (now = false): Promise<void> { await this.conn.close(now) }
}
