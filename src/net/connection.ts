import { EventEmitter, once } from 'node:events'
import net from 'node:net'
import { ProtocolError, knownErrorCode } from '../protocol/errors.ts'
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder } from '../protocol/frame.ts'
import { HANDSHAKE_MAX_FRAME_BYTES, checkAuth, checkHello, computeMac, createHello } from '../protocol/handshake.ts'
import { CHUNK_DATA_OFFSET, MessageTag, decodeMessage, encodeMessage, type Message, type Role } from '../protocol/messages.ts'

/**
 * Size of the reused read buffer of outgoing connections. Only the read that ends one frame and
 * starts the next lands here (the rest of a segment goes straight into its own buffer), and whatever
 * of a segment it brings is copied: with 256 KiB, up to a quarter of every 1 MiB segment was. 64 KiB: the
 * getters' CPU on 1 GiB to three fell from 5.51-5.58 s to 5.30-5.42 s (scripts/perf/swarm-run.sh 3,
 * 3 runs each, 2026-12-04); 16 KiB did no better.
 */
const READ_BUFFER_BYTES = 64 * 1024
/** A frame with at least this much still to come is read into its own buffer directly (see FrameDecoder.readTarget). */
const DIRECT_READ_MIN_BYTES = 64 * 1024
/**
 * At most this much per read straight into a frame's buffer: each piece is hashed right after the
 * read (DIGEST_MIN_BYTES), and a piece this size is still in the CPU's cache then, where reads of up
 * to the whole rest of a 1 MiB segment were not. Raw, 1 GiB to three getters (scripts/perf/swarm-run.sh
 * 3, 6 runs each, 2026-12-04): getters' CPU 4.98-5.34 s against 5.37-5.86 s without a limit; 64 KiB and
 * 128 KiB did no better.
 */
const DIRECT_READ_MAX_BYTES = 256 * 1024
/**
 * CHUNKs with at least this much data are hashed (SHA-256) as they arrive, piece by piece (see
 * Connection.frameDigest): right after the kernel has copied a piece in, it is still in the CPU's
 * cache. Hashing whole 1 MiB segments once complete cost 0.78 s per GiB in three getters against 0.55
 * s for memory in cache (perf, 2026-12-04; 0.94 s for memory not in cache). Smaller ones (a classic
 * run's 32-byte segments) are not worth a hash object.
 */
const DIGEST_MIN_BYTES = 4096

/** Lifecycle of a connection. */
export type ConnectionStatus = 'handshaking' | 'active' | 'closing' | 'closed'

/** Options shared by both ends of a connection. */
export interface ConnectionOptions {
  role: Role
  id: number
  /** Swarm secret; null = open swarm. Default null. */
  secret?: string | null
  /** Largest frame body after the handshake. Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number
  /** Time allowed for the whole handshake. Default 10 000 ms. */
  handshakeTimeoutMs?: number
  /** Close after this long without traffic; 0 = never. Default 0. */
  idleTimeoutMs?: number
}

/** What the remote side said about itself. */
export interface RemoteInfo { role: Role, id: number }

/** Sockets being turned away with a reason at once (see Connection.refuseAtLimit), over the whole process. */
const MAX_REFUSING = 64
let refusing = 0

/**
 * One framed, handshaken TCP connection. Emits `message` (Message) and, once, `close` (Error | undefined).
 * Never emits `error`: a remote fault closes this connection only and is reported through `close`.
 */
export class Connection extends EventEmitter {
  status: ConnectionStatus = 'handshaking'
  remote: RemoteInfo = { role: 'peer', id: 0 }
  readonly socket: net.Socket
  private readonly decoder: FrameDecoder
  private closeError: Error | undefined
  private readonly closed: Promise<void>

  /** Where incoming bytes go; set by the handshake. */
  private ingest: (chunk: Buffer) => void = () => {}

  private constructor (socket: net.Socket, readsIntoSharedBuffer: boolean) {
    super()
    this.socket = socket
    // Received segments land page-aligned, ready for a direct write to disk without a copy.
    this.decoder = new FrameDecoder({
      maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES,
      copy: readsIntoSharedBuffer,
      ...(readsIntoSharedBuffer ? { alignAt: CHUNK_DATA_OFFSET, digest: { tag: MessageTag.Chunk, from: CHUNK_DATA_OFFSET, minBytes: DIGEST_MIN_BYTES } } : {})
    })
    if (!readsIntoSharedBuffer) socket.on('data', (chunk: Buffer) => { this.ingest(chunk) })
    socket.setNoDelay(true)
    this.closed = new Promise(resolve => {
      socket.once('close', () => {
        this.status = 'closed'
        this.emit('close', this.closeError)
        resolve()
      })
    })
    socket.on('error', err => { this.closeError ??= err })
  }

  /**
   * Turns away a connection past a server's limit of `limit` connections: tells the remote why in an
   * ERROR frame (`ERR_LIMIT`, "`who` is at its limit of ..."), which its handshake reports as `refused
   * by the remote side: ...`, then closes. The socket is destroyed at the latest after a second, so a
   * remote that never reads holds nothing; past MAX_REFUSING such sockets at once (a flood), the next
   * ones are destroyed without a word.
   */
  static refuseAtLimit (socket: net.Socket, who: string, limit: number): void {
    const message = `${who} is at its limit of ${limit} connection${limit === 1 ? '' : 's'}`
    socket.on('error', () => {})
    if (refusing >= MAX_REFUSING) { socket.destroy(); return }
    refusing++
    socket.once('close', () => { refusing-- })
    socket.setNoDelay(true)
    for (const part of encodeMessage({ type: 'error', code: 'ERR_LIMIT', message })) socket.write(part)
    socket.end()
    // Whatever the remote sent is dropped, so its FIN ends the socket at once.
    socket.resume()
    const timer = setTimeout(() => socket.destroy(), 1000)
    timer.unref()
    socket.once('close', () => { clearTimeout(timer) })
  }

  /** Runs the handshake on a connected socket (either side) and resolves with an active connection. */
  static async establish (socket: net.Socket, opts: ConnectionOptions): Promise<Connection> {
    const conn = new Connection(socket, false)
    await conn.handshake(opts, false)
    return conn
  }

  /** Dials `host:port` and runs the handshake. */
  static async connect (host: string, port: number, opts: ConnectionOptions & { signal?: AbortSignal }): Promise<Connection> {
    // Reads land in one reused buffer (no allocation per read, READ_BUFFER_BYTES per syscall), from which the
    // decoder copies each frame once into a buffer of its own size; but while a large frame (a segment)
    // is coming in, the kernel reads straight into the rest of its buffer, and nothing is copied.
    let conn: Connection | null = null
    const shared = Buffer.allocUnsafe(READ_BUFFER_BYTES)
    const socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => conn?.decoder.readTarget(DIRECT_READ_MIN_BYTES, DIRECT_READ_MAX_BYTES) ?? shared,
        callback: (n: number, buf: Uint8Array) => { conn?.ingest(buf.subarray(0, n) as Buffer); return true }
      }
    })
    const timeout = setTimeout(() => socket.destroy(new ProtocolError('ERR_TIMEOUT', `connect to ${host}:${port} timed out`)), opts.handshakeTimeoutMs ?? 10_000)
    const onAbort = (): void => { socket.destroy(new Error('aborted')) }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await once(socket, 'connect')
    } finally {
      clearTimeout(timeout)
      opts.signal?.removeEventListener('abort', onAbort)
    }
    conn = new Connection(socket, true)
    await conn.handshake(opts, true)
    return conn
  }

  private async handshake (opts: ConnectionOptions, initiator: boolean): Promise<void> {
    const secret = opts.secret ?? null
    const hello = createHello({ role: opts.role, id: opts.id, secret })
    const socket = this.socket
    // Held in an object: a plain `let` assigned inside the callbacks would stay narrowed to null below.
    const peer: { hello: Extract<Message, { type: 'hello' }> | null } = { hello: null }
    let settle: ((err?: Error) => void) | null = null
    const done = new Promise<void>((resolve, reject) => {
      settle = err => { settle = null; if (err === undefined) resolve(); else reject(err) }
    })
    const timer = setTimeout(() => settle?.(new ProtocolError('ERR_TIMEOUT', 'handshake timed out')), opts.handshakeTimeoutMs ?? 10_000)
    const onMessage = (msg: Message): void => {
      if (msg.type === 'error') throw new ProtocolError(knownErrorCode(msg.code) ?? 'ERR_AUTH', `refused by the remote side: ${msg.message}`)
      if (peer.hello === null) {
        peer.hello = checkHello(hello, msg)
        if (secret === null) { settle?.(); return }
        this.write({ type: 'auth', mac: computeMac(secret, opts.role, initiator, peer.hello.nonce, hello.nonce) })
        return
      }
      checkAuth(secret as string, hello, peer.hello, msg, initiator)
      settle?.()
    }
    const onData = (chunk: Buffer): void => {
      if (this.status === 'closing' || this.status === 'closed') return
      try {
        for (const body of this.decoder.push(chunk)) {
          if (settle === null) { this.dispatch(body); continue } // frames right behind the handshake
          onMessage(decodeMessage(body))
          if (settle === null) this.decoder.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
        }
      } catch (err) {
        if (settle !== null) {
          if (err instanceof ProtocolError && (err.code === 'ERR_AUTH' || err.code === 'ERR_BAD_HANDSHAKE') && !err.message.startsWith('refused')) {
            this.write({ type: 'error', code: err.code, message: err.message })
          }
          settle(err as Error)
        } else this.fail(err as Error)
      }
    }
    const onClose = (): void => settle?.(this.closeError ?? new ProtocolError('ERR_BAD_HANDSHAKE', 'connection closed during the handshake'))
    this.ingest = onData
    socket.once('close', onClose)
    this.write(hello)
    try {
      await done
    } catch (err) {
      this.destroy(err as Error)
      throw err
    } finally {
      clearTimeout(timer)
      socket.off('close', onClose)
    }
    const remote = peer.hello as Extract<Message, { type: 'hello' }>
    this.remote = { role: remote.role, id: remote.id }
    this.status = 'active'
    const idle = opts.idleTimeoutMs ?? 0
    if (idle > 0) {
      socket.setTimeout(idle, () => this.fail(new ProtocolError('ERR_TIMEOUT', `idle for ${idle} ms`)))
    }
  }

  private readonly pending: Buffer[] = []

  /**
   * On connections we dialled (Connection.connect): performance.now() when the first byte of the
   * message being emitted arrived. Read it in a `message` listener. NaN on accepted connections.
   */
  get frameStartMs (): number { return this.decoder.frameStartMs }

  private digest: Buffer | null = null

  /**
   * On connections we dialled: the SHA-256 of the data of the CHUNK being emitted, computed as it
   * arrived (see DIGEST_MIN_BYTES); null for other messages, small CHUNKs, and messages held back
   * until start(). Read it in a `message` listener.
   */
  get frameDigest (): Buffer | null { return this.digest }

  private dispatch (body: Buffer): void {
    if (this.status !== 'active') { this.pending.push(body); return }
    const msg = decodeMessage(body)
    this.digest = this.decoder.frameDigest
    try {
      this.emit('message', msg)
    } finally {
      this.digest = null
    }
  }

  /**
   * Starts delivering messages. Call once listeners are attached: frames that arrived together with
   * the handshake are held until then.
   */
  start (): void {
    const held = this.pending.splice(0)
    try {
      for (const body of held) this.emit('message', decodeMessage(body))
    } catch (err) { this.fail(err as Error) }
  }

  private corked = false

  /**
   * Writes a frame. Frames written in the same turn of the event loop are corked together and leave in
   * one syscall (small control messages such as HAVE and REQ_CHUNK come in bursts; Nagle is off).
   */
  private write (msg: Message, onWritten?: () => void): boolean {
    return this.writeFrames(encodeMessage(msg), onWritten)
  }

  private writeFrames (parts: readonly Buffer[], onWritten?: () => void): boolean {
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      setImmediate(() => { this.flush() })
    }
    let ok = true
    for (let i = 0; i < parts.length; i++) {
      ok = i === parts.length - 1 && onWritten !== undefined
        ? this.socket.write(parts[i] as Buffer, () => { onWritten() })
        : this.socket.write(parts[i] as Buffer)
    }
    return ok
  }

  /**
   * Sends a message; returns false when the socket buffer is full (wait for {@link drained}). Dropped when
   * closed. `onWritten` runs once the socket no longer needs the message's buffers (written or failed).
   */
  send (msg: Message, onWritten?: () => void): boolean {
    if (this.status === 'closed' || this.socket.destroyed) return false
    return this.write(msg, onWritten)
  }

  /**
   * Sends frames already encoded with encodeMessage (one message to many connections is encoded once);
   * the buffers are only read. Same result as {@link send}.
   */
  sendEncoded (parts: readonly Buffer[]): boolean {
    if (this.status === 'closed' || this.socket.destroyed) return false
    return this.writeFrames(parts)
  }

  /** Resolves when the socket can take more data (or is closed). */
  async drained (): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return
    await new Promise<void>(resolve => {
      const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve() }
      this.socket.on('drain', done)
      this.socket.on('close', done)
    })
  }

  /**
   * Closes because of a remote fault: that connection only. What we already queued (an ERROR telling
   * the remote why) is flushed first; nothing more is read, and the socket is destroyed at the latest
   * after a second.
   */
  fail (err: Error): void {
    this.closeError ??= err
    if (this.status === 'closed' || this.status === 'closing') return
    this.status = 'closing'
    this.socket.pause()
    this.flush()
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }

  private flush (): void {
    if (this.corked) { this.corked = false; this.socket.uncork() }
  }

  private destroy (err?: Error): void {
    if (err !== undefined) this.closeError ??= err
    if (this.status !== 'closed') this.status = 'closing'
    this.flush()
    this.socket.destroy()
  }

  /**
   * Sends what is queued, then closes, waiting for the remote's end too. Idempotent. With `now`,
   * closes at once instead, dropping whatever is queued either way: for when nothing more needs
   * saying, such as after the tracker closed the swarm.
   */
  async close (now = false): Promise<void> {
    if (this.status === 'closed') return
    if (now) {
      this.destroy()
      await this.closed
      return
    }
    if (this.status !== 'closing') {
      this.status = 'closing'
      this.flush()
      this.socket.end()
      const t = setTimeout(() => this.socket.destroy(), 2000)
      t.unref()
    }
    await this.closed
  }

}
