import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { Uploader } from '../../src/peer/uploader.ts'
import { ClassicStore } from '../../src/storage/classic-store.ts'
import { RawClient } from '../faults/lib.ts'

describe('Uploader: HAVEs', () => {
  it('skips the segments a subscriber is known to hold, and one that holds them all gets nothing', async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-haves-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    // Peer 7 is known to hold segment 0, peer 8 segments 0 and 1, peer 9 nothing.
    const known = new Map([[7, [0]], [8, [0, 1]]])
    const uploader = new Uploader(new ClassicStore(1, dir, { owned: [], wants: [], wantLines: [] }), {
      id: 1,
      peerHolds: (peer, file, index) => file === 'f' && (known.get(peer)?.includes(index) ?? false)
    })
    t.after(async () => { await uploader.close() })
    const { port } = await uploader.listen('127.0.0.1', 0)
    const clients = new Map<number, RawClient>()
    for (const id of [7, 8, 9]) {
      const c = await RawClient.connect(t, `127.0.0.1:${port}`, { role: 'peer', id })
      c.send({ type: 'req-have', file: 'f' })
      await c.next('have-map')
      clients.set(id, c)
    }
    const client = (id: number): RawClient => clients.get(id) as RawClient
    // Two segments stored in one turn of the event loop go out together.
    uploader.announce('f', 0)
    uploader.announce('f', 1)
    assert.deepEqual((await client(9).next('haves')).indexes, [0, 1])
    assert.equal((await client(7).next('have')).index, 1)
    // A later segment nobody is known to hold reaches everyone; for peer 8 it is the first news at all
    // (messages arrive in order on a connection).
    uploader.announce('f', 2)
    for (const id of [7, 8, 9]) assert.equal((await client(id).next('have')).index, 2)
    assert.deepEqual(client(8).messages, [])
    assert.deepEqual(client(7).messages, [])
  })
})
