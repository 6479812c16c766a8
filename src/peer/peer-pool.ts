import { Connection } from '../net/connection.ts'
import { PeerLink } from './peer-link.ts'

/** Options of {@link PeerPool}. */
export interface PeerPoolOptions {
  /** Our id in handshakes (may change once the tracker assigns one). */
  id: () => number
  secret: string | null
  /** Most outgoing peer connections. Default 128. */
  maxLinks?: number
  handshakeTimeoutMs?: number
}

/** Outgoing connections to other peers, one per peer id, opened on first use. */
export class PeerPool {
  private readonly links = new Map<number, Promise<PeerLink>>()
  private readonly opts: PeerPoolOptions

  constructor (opts: PeerPoolOptions) { this.opts = opts }

  get size (): number { return this.links.size }

  /** The link to peer `id` at host:port, connecting if needed. Rejects when it cannot connect. */
  async get (id: number, host: string, port: number): Promise<PeerLink> {
    let p = this.links.get(id)
    if (p === undefined) {
      if (this.links.size >= (this.opts.maxLinks ?? 128)) throw new Error(`connection limit of ${this.opts.maxLinks ?? 128} peers reached`)
      p = Connection.connect(host, port, {
        role: 'peer',
        id: this.opts.id(),
        secret: this.opts.secret,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? 10_000
      }).then(conn => {
        if (conn.remote.id !== id && conn.remote.id !== 0) {
          conn.fail(new Error(`expected peer ${id} at ${host}:${port}, found peer ${conn.remote.id}`))
          throw new Error(`expected peer ${id} at ${host}:${port}, found peer ${conn.remote.id}`)
        }
        const link = new PeerLink(id, conn)
        link.setMaxListeners(0)
        link.once('close', () => { if (this.links.get(id) === p) this.links.delete(id) })
        return link
      })
      p.catch(() => { if (this.links.get(id) === p) this.links.delete(id) })
      this.links.set(id, p)
    }
    return await p
  }

  /** Closes every link (see Connection.close). */
  async close (now = false): Promise<void> {
    const all = [...this.links.values()]
    this.links.clear()
    await Promise.all(all.map(async p => { try { await (await p).close(now) } catch {} }))
  }
}
