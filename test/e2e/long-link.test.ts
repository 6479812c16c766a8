import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { FrameDecoder } from '../../src/protocol/frame.ts'
import { decodeMessage } from '../../src/protocol/messages.ts'
import { writeRandom } from '../faults/lib.ts'
import { defer, sha256File, spawnDfss, startShare, startTracker, tempDir } from '../helpers/proc.ts'

const DELAY_MS = 25

/**
 * A relay listening on 127.0.0.2 that passes every byte on to the same port on 127.0.0.1 `delayMs`
 * later, each way: a long link on loopback (the seed advertises 127.0.0.2). It decodes the frames and
 * keeps the most segment requests that were in flight at once (asked by the getter, not yet answered
 * by the seed).
 */
async function delayingRelay (t: TestContext, delayMs: number): Promise<{ port: number, mostInFlight: () => number }> {
  let inFlight = 0
  let most = 0
  const sockets = new Set<net.Socket>()
  const watch = (count: (type: string) => void): ((d: Buffer) => void) => {
    const decoder = new FrameDecoder()
    return d => { for (const body of decoder.push(d)) count(decodeMessage(body).type) }
  }
  const server = net.createServer({ noDelay: true }, getter => {
    const seed = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, noDelay: true })
    const fromGetter = watch(type => { if (type === 'req-chunk') most = Math.max(most, ++inFlight) })
    const fromSeed = watch(type => { if (type === 'chunk' || type === 'no-chunk') inFlight-- })
    for (const [from, to, seen] of [[getter, seed, fromGetter], [seed, getter, fromSeed]] as const) {
      sockets.add(from)
      from.on('error', () => {})
      from.on('data', (d: Buffer) => {
        const copy = Buffer.from(d)
        seen(copy)
        setTimeout(() => { if (!to.destroyed) to.write(copy) }, delayMs)
      })
      from.on('close', () => { sockets.delete(from); setTimeout(() => to.destroy(), delayMs) })
    }
  })
  server.listen(0, '127.0.0.2')
  await once(server, 'listening')
  defer(t, async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { port: (server.address() as net.AddressInfo).port, mostInFlight: () => most }
}

describe('a source far away', () => {
  it('gets a deeper pipeline of requests, and the file arrives intact', { timeout: 90_000 }, async t => {
    const dir = await tempDir(t, 'long-link')
    const file = path.join(dir, 'seed', 'far.bin')
    const digest = await writeRandom(file, 8 * 1024 * 1024)
    const relay = await delayingRelay(t, DELAY_MS)
    const tracker = await startTracker(t)
    // The seed listens on 127.0.0.1 at the relay's port and tells peers to dial 127.0.0.2 there.
    await startShare(t, 'seed', tracker.addr, [file], ['--port', String(relay.port), '--advertise', '127.0.0.2', '--segment-size', '65536'])
    const out = path.join(dir, 'out')
    const g = spawnDfss(t, 'getter', ['get', 'far.bin', '-t', tracker.addr, '-o', out, '--host', '127.0.0.1', '--linger', '0'])
    assert.deepEqual(await g.waitExit(60_000), { code: 0, signal: null }, g.report())
    assert.equal(await sha256File(path.join(out, 'far.bin')), digest)
    // One source holds the file: the base pipeline is 2 requests (PIPELINE_PER_SOURCE). A 50 ms round
    // trip against well under 1 ms a 64 KiB segment on loopback calls for the cap.
    assert.ok(relay.mostInFlight() >= 8, `at most ${relay.mostInFlight()} requests were in flight at once`)
  })
})
