import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import { debuglog } from 'node:util'
import { Connection } from '../net/connection.ts'
import { ProtocolError } from '../protocol/errors.ts'
import type { FileMeta, Member, Message, Transfer } from '../protocol/messages.ts'
import { unsafeNameReason } from '../protocol/names.ts'
import { Catalog, CatalogConflictError } from './catalog.ts'
import { UploadStats } from './upload-stats.ts'

const log = debuglog('dfss:tracker')

/** Options of {@link Tracker}. */
export interface TrackerOptions {
  /** Address to bind. Default 127.0.0.1. */
  host?: string
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number
  /**
   * Classic mode: the number of peers expected (ranks 1..expectedPeers). ACKs wait until all have
   * registered, and the tracker closes the swarm once all sent CLIENT_FIN. Default: null (open swarm).
   */
  expectedPeers?: number | null
  /** Swarm secret. Default null. */
  secret?: string | null
  /**
   * Upload counts older than this are polled again before a swarm answer. Default 100 ms: with 25 ms, a
   * flash crowd (31 peers asking every 10 segments) polled every member every few tens of ms; 100 ms
   * took 2.45-2.58 s against 2.54-2.72 s for `dfss run -n 33` (4 runs each, alternating).
   */
  pollFreshMs?: number
  /** Longest wait for poll answers before answering a swarm request anyway. Default 200 ms. */
  pollTimeoutMs?: number
  /** Most simultaneous connections. Default 1024. */
  maxConnections?: number
  /** Most files one registration may declare. Default 100 000. */
  maxFilesPerPeer?: number
  /** Handshake time limit. Default 10 000 ms. */
  handshakeTimeoutMs?: number
}

interface PeerRecord {
  id: number
  conn: Connection
  host: string
  port: number
  registered: boolean
  finished: boolean
  wants: string[]
  transfers: Transfer[]
}

/** How a classic swarm ended. */
export interface TrackerResult {
  ok: boolean
  /** Human-readable reasons when not ok (dead ranks, bad wants). */
  problems: string[]
  transfers: Array<Transfer & { to: number }>
  /** Final upload count per peer id (from the peers' own reports and polls). */
  uploads: Map<number, number>
  peers: number[]
}

/**
 * The tracker: catalog of files and swarms, upload counts by polling, swarm answers fewest uploads first,
 * and in classic mode the ACK barrier and the final CLOSE. Emits `warning` for remote faults.
 */
export class Tracker extends EventEmitter {
  readonly catalog = new Catalog()
  readonly stats = new UploadStats()
  private readonly server: net.Server
  private readonly peers = new Map<number, PeerRecord>()
  private readonly conns = new Set<Connection>()
  private readonly lost = new Map<number, string>()
  private readonly opts: Required<Omit<TrackerOptions, 'host' | 'port'>>
  private nextId = 1
  /** Sockets still in the handshake: they count against maxConnections too. */
  private handshaking = 0
  private pollSeq = 0
  private readonly pollWaiters = new Map<number, Array<() => void>>()
  private closing = false
  private readonly result: Promise<TrackerResult>
  private resolveResult!: (r: TrackerResult) => void

  constructor (opts: TrackerOptions = {}) {
    super()
    this.opts = {
      expectedPeers: opts.expectedPeers ?? null,
      secret: opts.secret ?? null,
      pollFreshMs: opts.pollFreshMs ?? 100,
      pollTimeoutMs: opts.pollTimeoutMs ?? 200,
      maxConnections: opts.maxConnections ?? 1024,
      maxFilesPerPeer: opts.maxFilesPerPeer ?? 100_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 10_000
    } as Required<Omit<TrackerOptions, 'host' | 'port'>>
    this.result = new Promise(resolve => { this.resolveResult = resolve })
    this.server = net.createServer({ noDelay: true }, socket => { this.accept(socket) })
  }

  /** Binds and resolves with the bound address. */
  async listen (host = '127.0.0.1', port = 0): Promise<{ host: string, port: number }> {
    this.server.listen(port, host)
    await once(this.server, 'listening')
    const a = this.server.address() as net.AddressInfo
    return { host: a.address, port: a.port }
  }

  /** Classic mode: resolves once every peer finished (or was lost) and CLOSE was sent. */
  async finished (): Promise<TrackerResult> { return await this.result }

  private get classic (): boolean { return this.opts.expectedPeers !== null }

  private accept (socket: net.Socket): void {
    if (this.closing) { socket.destroy(); return }
    if (this.conns.size + this.handshaking >= this.opts.maxConnections) {
      Connection.refuseAtLimit(socket, 'the tracker', this.opts.maxConnections)
      return
    }
    socket.on('error', () => {})
    this.handshaking++
    Connection.establish(socket, { role: 'tracker', id: 0, secret: this.opts.secret, handshakeTimeoutMs: this.opts.handshakeTimeoutMs })
      .then(conn => { this.handshaking--; this.attach(conn) }, (err: Error) => { this.handshaking--; this.emit('warning', err) })
  }

  private attach (conn: Connection): void {
    this.conns.add(conn)
    let record: PeerRecord | null = null
    let spoke = false
    // A connection must register (or ask for the catalog) soon after its handshake: silent ones would
    // otherwise hold a slot forever.
    const quiet = setTimeout(() => { if (!spoke) conn.fail(new ProtocolError('ERR_TIMEOUT', 'no request after the handshake')) }, this.opts.handshakeTimeoutMs)
    quiet.unref()
    conn.on('message', (msg: Message) => {
      spoke = true
      clearTimeout(quiet)
      try {
        record = this.route(conn, record, msg)
      } catch (err) {
        this.emit('warning', err)
        conn.send({ type: 'error', code: (err as ProtocolError).code ?? 'ERR_UNEXPECTED_MESSAGE', message: (err as Error).message })
        conn.fail(err as Error)
      }
    })
    conn.on('close', (err?: Error) => {
      clearTimeout(quiet)
      this.conns.delete(conn)
      if (record !== null) this.onLost(record, err)
    })
    conn.start()
  }

  private route (conn: Connection, record: PeerRecord | null, msg: Message): PeerRecord | null {
    if (msg.type === 'req-catalog') {
      conn.send({ type: 'catalog', entries: this.catalog.list(msg.pattern) })
      return record
    }
    if (msg.type === 'register') return this.register(conn, record, msg)
    if (record === null) throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `${msg.type} before REGISTER`)
    switch (msg.type) {
      case 'req-swarm': this.answerSwarm(record, msg.file, msg.withMeta).catch((err: Error) => this.emit('warning', err)); break
      case 'upld-info': this.onUploads(record, msg.seq, msg.uploads); break
      case 'file-done':
        if (!this.catalog.markDone(record.id, msg.file)) throw new ProtocolError('ERR_BAD_FIELD', `FILE_DONE for unknown file "${msg.file}"`)
        break
      case 'client-fin':
        record.finished = true
        record.transfers = msg.transfers
        log('peer %d finished', record.id)
        this.checkAllFinished()
        break
      default:
        throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', `unexpected ${msg.type} from a peer`)
    }
    return record
  }

  private register (conn: Connection, record: PeerRecord | null, msg: Extract<Message, { type: 'register' }>): PeerRecord {
    if (record !== null) throw new ProtocolError('ERR_UNEXPECTED_MESSAGE', 'second REGISTER on one connection')
    if (msg.files.length > this.opts.maxFilesPerPeer) throw new ProtocolError('ERR_LIMIT', `more than ${this.opts.maxFilesPerPeer} files in one registration`)
    let id: number
    if (this.classic) {
      id = conn.remote.id
      const n = this.opts.expectedPeers as number
      if (id < 1 || id > n) throw new ProtocolError('ERR_BAD_FIELD', `rank ${id} is outside 1..${n}`)
      if (this.peers.has(id) || this.lost.has(id)) throw new ProtocolError('ERR_BAD_FIELD', `rank ${id} registered twice`)
    } else {
      id = this.nextId++
    }
    for (const f of msg.files) {
      const why = unsafeNameReason(f.name)
      if (why !== null) throw new ProtocolError('ERR_BAD_FIELD', `refused file name ${JSON.stringify(f.name)}: ${why}`)
    }
    const rec: PeerRecord = { id, conn, host: msg.host === '' ? conn.socket.remoteAddress ?? '127.0.0.1' : msg.host, port: msg.port, registered: true, finished: false, wants: msg.wants, transfers: [] }
    try {
      for (const f of msg.files) this.catalog.addSeed(id, f)
    } catch (err) {
      this.catalog.removeMember(id)
      if (err instanceof CatalogConflictError) throw new ProtocolError('ERR_BAD_FIELD', err.message)
      throw err
    }
    this.peers.set(id, rec)
    log('peer %d registered %d files at %s:%d', id, msg.files.length, rec.host, rec.port)
    if (!this.classic) {
      conn.send({ type: 'ack', peerId: id })
    } else {
      this.maybeRelease()
    }
    return rec
  }

  private released = false

  /** Classic: releases the ACK barrier once every rank registered (or was lost trying). */
  private maybeRelease (): void {
    if (this.released || this.peers.size + this.lost.size < (this.opts.expectedPeers as number)) return
    this.released = true
    this.releaseClassic()
  }

  /** Classic: all ranks registered; check every want, then ACK everyone at once. */
  private releaseClassic (): void {
    log('all %d peers registered at %d ms', this.peers.size, Math.round(performance.now()))
    const problems: string[] = []
    for (const p of [...this.peers.values()].sort((a, b) => a.id - b.id)) {
      for (const w of p.wants) if (this.catalog.get(w) === undefined) problems.push(`rank ${p.id} wants "${w}", which no peer owns`)
    }
    if (problems.length > 0) {
      for (const p of this.peers.values()) p.conn.send({ type: 'error', code: 'ERR_NO_SUCH_FILE', message: problems.join('; ') })
      this.finish(problems)
      return
    }
    for (const p of this.peers.values()) p.conn.send({ type: 'ack', peerId: p.id })
  }

  private async answerSwarm (rec: PeerRecord, name: string, withMeta: boolean): Promise<void> {
    const f = this.catalog.join(rec.id, name)
    if (f === undefined) {
      rec.conn.send({ type: 'swarm', file: name, meta: null, members: [] })
      return
    }
    const ids = [...f.seeds, ...f.peers].filter(id => id !== rec.id && this.peers.has(id))
    // A downloader's first request (the one that asks for the metadata) is answered with the counts we
    // have: a newcomer has nothing to balance yet, everyone is near zero when a swarm starts, and the
    // members it would wait for are often busy starting too (up to pollTimeoutMs before its first
    // segment request). Its later requests, every few segments, poll first.
    if (!withMeta) await this.refreshUploads(ids)
    const members: Member[] = []
    for (const id of ids) {
      const p = this.peers.get(id)
      if (p === undefined) continue
      members.push({ id, host: p.host, port: p.port, uploads: this.stats.uploads(id), seed: f.seeds.has(id) })
    }
    members.sort((a, b) => a.uploads - b.uploads || a.id - b.id)
    const meta: FileMeta | null = withMeta ? f.meta : null
    rec.conn.send({ type: 'swarm', file: name, meta, members })
  }

  /** Polls the members whose counts are stale; resolves when they answered or after pollTimeoutMs. */
  private async refreshUploads (ids: number[]): Promise<void> {
    const waits: Array<Promise<void>> = []
    for (const id of ids) {
      if (!this.stats.isStale(id, this.opts.pollFreshMs)) continue
      const p = this.peers.get(id)
      if (p === undefined) continue
      let waiting = this.pollWaiters.get(id)
      if (waiting === undefined) {
        waiting = []
        this.pollWaiters.set(id, waiting)
        p.conn.send({ type: 'req-upld-info', seq: ++this.pollSeq })
      }
      const list = waiting
      waits.push(new Promise<void>(resolve => { list.push(resolve) }))
    }
    if (waits.length === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(waits),
      new Promise<void>(resolve => { timer = setTimeout(resolve, this.opts.pollTimeoutMs) })
    ])
    clearTimeout(timer)
  }

  private onUploads (rec: PeerRecord, _seq: number, uploads: number): void {
    this.stats.record(rec.id, uploads)
    const waiting = this.pollWaiters.get(rec.id)
    this.pollWaiters.delete(rec.id)
    for (const w of waiting ?? []) w()
  }

  private onLost (rec: PeerRecord, err?: Error): void {
    if (this.peers.get(rec.id) !== rec) return
    this.peers.delete(rec.id)
    this.catalog.removeMember(rec.id)
    this.stats.remove(rec.id)
    for (const w of this.pollWaiters.get(rec.id) ?? []) w()
    this.pollWaiters.delete(rec.id)
    if (this.closing) return
    if (this.classic && !rec.finished) {
      const why = `rank ${rec.id} lost its connection before finishing${err !== undefined ? ` (${err.message})` : ''}`
      this.lost.set(rec.id, why)
      log(why)
      this.emit('warning', new Error(why))
      this.maybeRelease()
      this.checkAllFinished()
    } else if (this.classic) {
      this.lost.set(rec.id, `rank ${rec.id} left before CLOSE`)
    }
  }

  private checkAllFinished (): void {
    if (!this.classic || this.closing) return
    const n = this.opts.expectedPeers as number
    let done = 0
    let finished = 0
    for (let id = 1; id <= n; id++) {
      const p = this.peers.get(id)
      if (p?.finished === true) { done++; finished++ } else if (p === undefined && this.lost.has(id)) done++
    }
    if (done < n) return
    const problems = [...this.lost.entries()].filter(([id]) => this.peers.get(id)?.finished !== true).map(([, why]) => why)
    if (finished === 0 && problems.length === 0) return
    this.finish(problems)
  }

  private finish (problems: string[]): void {
    log('finishing at %d ms: %s', Math.round(performance.now()), problems.length === 0 ? 'ok' : problems.join('; '))
    if (this.closing) return
    this.closing = true
    const transfers: Array<Transfer & { to: number }> = []
    const uploads = new Map<number, number>()
    const ids = this.classic ? Array.from({ length: this.opts.expectedPeers as number }, (_, i) => i + 1) : [...this.peers.keys()]
    for (const id of ids) uploads.set(id, 0)
    for (const p of [...this.peers.values()].sort((a, b) => a.id - b.id)) {
      for (const t of p.transfers) {
        transfers.push({ to: p.id, ...t })
        uploads.set(t.from, (uploads.get(t.from) ?? 0) + t.segments)
      }
    }
    for (const p of this.peers.values()) p.conn.send({ type: 'close' })
    this.resolveResult({ ok: problems.length === 0, problems, transfers, uploads, peers: ids })
  }

  /** Stops accepting, closes every connection. Idempotent. */
  async close (): Promise<void> {
    this.closing = true
    this.server.close()
    await Promise.all([...this.conns].map(async c => { await c.close() }))
  }
}

