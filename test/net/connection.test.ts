import { describe, it, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { createHash, randomBytes } from 'node:crypto'
import { Connection } from '../../src/net/connection.ts'
import type { Message } from '../../src/protocol/messages.ts'
import { addressSpaceUnlimited, isPageAligned } from '../../src/util/aligned-memory.ts'

const opts = { role: 'peer' as const, id: 1, secret: null, handshakeTimeoutMs: 5000 }

/** A server that sends `payloads` as CHUNK messages on every connection it accepts. */
async function chunkServer (payloads: Buffer[]): Promise<{ port: number, close: () => void }> {
  const server = net.createServer(socket => {
    void (async () => {
      const c = await Connection.establish(socket, { ...opts, id: 2 })
      c.start()
      for (let i = 0; i < payloads.length; i++) {
        if (!c.send({ type: 'chunk', reqId: i, index: i, holdUs: i, data: payloads[i] as Buffer })) await c.drained()
      }
    })().catch(() => { socket.destroy() })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as net.AddressInfo).port, close: () => { server.close() } }
}

/**
 * Serves `payloads` as CHUNK messages, receives them through Connection.connect and passes each to
 * `check` (which returns what is wrong with it, or null) until all have come; rejects on the first fault.
 */
async function receiveAll (t: TestContext, payloads: Buffer[], check: (m: Extract<Message, { type: 'chunk' }>, conn: Connection) => string | null): Promise<void> {
  const srv = await chunkServer(payloads)
  t.after(srv.close)
  const c = await Connection.connect('127.0.0.1', srv.port, opts)
  t.after(() => { void c.close() })
  let got = 0
  await new Promise<void>((resolve, reject) => {
    c.on('message', (m: Message) => {
      const fault = m.type === 'chunk' ? check(m, c) : `unexpected ${m.type}`
      if (fault !== null) { reject(new Error(fault)); return }
      if (++got === payloads.length) resolve()
    })
    c.once('close', () => { reject(new Error('closed early')) })
    c.start()
  })
}

describe('Connection.connect reads (segments straight into their own buffers)', () => {
  it('gives the SHA-256 of each CHUNK of at least 4 KiB, computed as it arrived, while its message is handled', { timeout: 30_000 }, async t => {
    const sizes = [1 << 20, 3, 4095, 4096, 64 * 1024 + 1, 17, (1 << 20) + 7]
    const payloads = sizes.map(n => randomBytes(n))
    await receiveAll(t, payloads, (m, conn) => {
      const want = m.data.length >= 4096 ? createHash('sha256').update(payloads[m.reqId] as Buffer).digest('hex') : null
      const got = conn.frameDigest?.toString('hex') ?? null
      return got === want ? null : `payload ${m.reqId} (${m.data.length} bytes): digest ${got}, expected ${want}`
    })
  })

  it('delivers large and small frames intact and in order over a real socket', { timeout: 30_000 }, async t => {
    // Sizes around the direct-read threshold (64 KiB) and the shared read buffer (256 KiB), and segments.
    const sizes = [1 << 20, 3, (1 << 20) + 7, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 256 * 1024 + 5, 17, 2 * (1 << 20) - 9, 1 << 20]
    const payloads = sizes.map(n => randomBytes(n))
    const got: Buffer[] = []
    await receiveAll(t, payloads, m => {
      if (m.reqId !== got.length) return `payload ${m.reqId} arrived as number ${got.length}`
      got.push(Buffer.from(m.data)) // a copy: the original may be a pooled buffer
      return null
    })
    for (let i = 0; i < payloads.length; i++) assert.ok(got[i]?.equals(payloads[i] as Buffer), `payload ${i} (${sizes[i]} bytes) differs`)
  })
})

describe('Connection.connect: received segments in page-aligned memory', () => {
  it('a CHUNK of 64 KiB or more arrives with its data on a page boundary of aligned memory (no address-space limit here)', { timeout: 30_000 }, async t => {
    if (!addressSpaceUnlimited()) { t.skip('this process has an address-space limit: bodies are plain buffers'); return }
    const payloads = [randomBytes(1 << 20), randomBytes(100), randomBytes(300 * 1024 + 1)]
    const aligned: boolean[] = []
    await receiveAll(t, payloads, m => {
      if (!m.data.equals(payloads[m.reqId] as Buffer)) return `payload ${m.reqId} differs`
      aligned.push(isPageAligned(m.data))
      return null
    })
    assert.deepEqual(aligned, [true, false, true])
  })
})

describe('Connection.close', () => {
  /** A handshaken pair whose accepting side never ends its half on its own (allowHalfOpen). */
  async function halfOpenPair (t: TestContext): Promise<{ client: Connection, remote: net.Socket }> {
    let remote: net.Socket | null = null
    const server = net.createServer({ allowHalfOpen: true }, socket => {
      remote = socket
      Connection.establish(socket, { ...opts, id: 2 }).then(c => { c.start() }, () => { socket.destroy() })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => { server.close(); (remote as net.Socket | null)?.destroy() })
    const client = await Connection.connect('127.0.0.1', (server.address() as net.AddressInfo).port, opts)
    client.start()
    return { client, remote: remote as unknown as net.Socket }
  }

  it('waits for the remote to end its side too', { timeout: 10_000 }, async t => {
    const { client, remote } = await halfOpenPair(t)
    let settled = false
    const closing = client.close().then(() => { settled = true })
    await once(remote, 'end') // our FIN arrived; the remote has not answered with its own
    assert.equal(settled, false, 'still waiting for the remote')
    remote.end()
    await closing
    assert.equal(client.status, 'closed')
  })

  it('with now = true, closes at once without waiting for the remote', { timeout: 10_000 }, async t => {
    const { client, remote } = await halfOpenPair(t)
    const ended = once(remote, 'end')
    await client.close(true) // the remote never ends its side: only an immediate close settles
    assert.equal(client.status, 'closed')
    await ended // and the remote heard of it
  })
})
