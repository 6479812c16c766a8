import { EventEmitter } from 'node:events'
import { Connection } from '../net/connection.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES } from '../protocol/frame.ts'
import { HASH_BYTES, encodeMessage, type CatalogEntry, type FileMeta, type Member, type Message, type Transfer } from '../protocol/messages.ts'

/** A swarm answer. */
export interface SwarmAnswer { meta: FileMeta | null, members: Member[] }

/** Raised when the tracker refuses us (bad registration, unknown wanted file, wrong secret...). */
export class TrackerRefusedError extends Error {
  override name = 'TrackerRefusedError'
  readonly code: string
  constructor (code: string, message: string) { super(message); this.code = code }
}

interface Waiter<T> { resolve: (v: T) => void, reject: (e: Error) => void }

/**
 * A peer's connection to the tracker: registration, swarm and catalog requests, reports, and the
 * tracker's polls (answered with `uploads()`). Emits `close-request` on CLOSE and `lost` (Error) when
 * the connection ends otherwise.
 */
export class TrackerLink extends EventEmitter {
  readonly conn: Connection
  private readonly uploads: () => number
  private ack: Waiter<number> | null = null
  private readonly swarmWaiters = new Map<string, Array<Waiter<SwarmAnswer>>>()
  private readonly catalogWaiters: Array<Waiter<CatalogEntry[]>> = []
  closeRequested = false
  private lostReported = false

  private constructor (conn: Connection, uploads: () => number) {
    super()
    this.conn = conn
    this.uploads = uploads
    conn.on('message', (msg: Message) => {
      try { this.route(msg) } catch (err) { conn.fail(err as Error) }
    })
    conn.on('close', (err?: Error) => { this.failAll(err ?? new Error('the tracker closed the connection')) })
    conn.start()
  }

  /** Connects and runs the handshake. `id` is the classic rank, 0 in real mode. */
  static async connect (host: string, port: number, opts: { id: number, secret: string | null, uploads: () => number, handshakeTimeoutMs?: number }): Promise<TrackerLink> {
    const conn = await Connection.connect(host, port, { role: 'peer', id: opts.id, secret: opts.secret, handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000 })
    return new TrackerLink(conn, opts.uploads)
  }

  private route (msg: Message): void {
    switch (msg.type) {
      case 'ack': {
        const a = this.ack
        this.ack = null
        a?.resolve(msg.peerId)
        return
      }
      case 'swarm': {
        const list = this.swarmWaiters.get(msg.file)
        const w = list?.shift()
        if (list !== undefined && list.length === 0) this.swarmWaiters.delete(msg.file)
        if (w === undefined) throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `unrequested swarm answer for "${msg.file}"`)
        w.resolve({ meta: msg.meta, members: msg.members })
        return
      }
      case 'catalog': {
        const w = this.catalogWaiters.shift()
        if (w === undefined) throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', 'unrequested catalog')
        w.resolve(msg.entries)
        return
      }
      case 'req-upld-info':
        this.conn.send({ type: 'upld-info', seq: msg.seq, uploads: this.uploads() })
        return
      case 'close':
        this.closeRequested = true
        this.emit('close-request')
        return
      case 'error':
        this.failAll(new TrackerRefusedError(msg.code, msg.message))
        return
      default:
        throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from the tracker`)
    }
  }

  private failAll (err: Error): void {
    const a = this.ack
    this.ack = null
    a?.reject(err)
    for (const list of this.swarmWaiters.values()) for (const w of list) w.reject(err)
    this.swarmWaiters.clear()
    for (const w of this.catalogWaiters.splice(0)) w.reject(err)
    if (!this.closeRequested && !this.lostReported) {
      this.lostReported = true // once per link: a refusal is followed by the close, which is not news
      this.emit('lost', err)
    }
  }

  /**
   * Registers what we hold and want; resolves with our peer id once the tracker ACKs. Rejects at once,
   * sending nothing, when the registration is larger than any message may be: every shared file's
   * hashes travel in it (32 bytes a segment), so one peer can share about 524,000 segments in all
   * (1 TiB in the 2 MiB segments of large files).
   * Sent anyway, the tracker would drop the connection and the peer only see a broken pipe.
   */
  async register (host: string, port: number, files: FileMeta[], wants: string[]): Promise<number> {
    const parts = encodeMessage({ type: 'register', host, port, files, wants })
    const body = parts.reduce((n, part) => n + part.length, 0) - FRAME_HEADER_BYTES
    if (body > DEFAULT_MAX_FRAME_BYTES) {
      const segments = files.reduce((n, f) => n + f.hashes.length / HASH_BYTES, 0)
      throw new Error(`cannot register ${files.length} file${files.length === 1 ? '' : 's'} of ${segments} segments in all: the registration would be ${(body / 1048576).toFixed(1)} MiB, and a message carries at most ${(DEFAULT_MAX_FRAME_BYTES / 1048576).toFixed(1)} MiB (32 bytes of hash a segment); share fewer files per process, or use a larger --segment-size`)
    }
    const p = new Promise<number>((resolve, reject) => { this.ack = { resolve, reject } })
    this.conn.sendEncoded(parts)
    return await p
  }

  /** Asks for a file's swarm (and its metadata when `withMeta`). */
  async swarm (file: string, withMeta: boolean): Promise<SwarmAnswer> {
    const p = new Promise<SwarmAnswer>((resolve, reject) => {
      const list = this.swarmWaiters.get(file) ?? []
      list.push({ resolve, reject })
      this.swarmWaiters.set(file, list)
    })
    this.conn.send({ type: 'req-swarm', file, withMeta })
    return await p
  }

  /** Catalog entries matching a glob ('' = all). */
  async catalog (pattern: string): Promise<CatalogEntry[]> {
    const p = new Promise<CatalogEntry[]>((resolve, reject) => { this.catalogWaiters.push({ resolve, reject }) })
    this.conn.send({ type: 'req-catalog', pattern })
    return await p
  }

  fileDone (file: string): void { this.conn.send({ type: 'file-done', file }) }
  clientFin (transfers: Transfer[]): void { this.conn.send({ type: 'client-fin', transfers }) }

  /** Closes the connection (see Connection.close). */
  async close (now = false): Promise<void> {
    this.closeRequested = true
    await this.conn.close(now)
  }
}
