import { EventEmitter } from 'node:events'
import { Connection } from '../net/connection.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { CatalogEntry, FileMeta, Member, Message, Transfer } from '../protocol/messages.ts'

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

  /** Registers owned files and wants; resolves with our peer id once the tracker ACKs. */
  async register (host: string, port: number, files: FileMeta[], wants: string[]): Promise<number> {
    const p = new Promise<number>((resolve, reject) => { this.ack = { resolve, reject } })
    this.conn.send({ type: 'register', host, port, files, wants })
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
