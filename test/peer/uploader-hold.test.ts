import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { Uploader } from '../../src/peer/uploader.ts'
import { ClassicStore } from '../../src/storage/classic-store.ts'
import { RateLimiter } from '../../src/util/rate-limiter.ts'
import { RawClient } from '../faults/lib.ts'

describe('Uploader: hold time', () => {
  it('reports in each CHUNK how long its request waited here, in microseconds', async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-hold-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    const hashes = ['a'.repeat(32), 'b'.repeat(32)]
    // A classic segment is 32 bytes: the cap lets the first go at once and the second 100 ms later.
    const uploader = new Uploader(new ClassicStore(1, dir, { owned: [{ name: 'f', hashes }], wants: [], wantLines: [] }), {
      id: 1,
      limiter: new RateLimiter(320, 32)
    })
    t.after(async () => { await uploader.close() })
    const { port } = await uploader.listen('127.0.0.1', 0)
    const c = await RawClient.connect(t, `127.0.0.1:${port}`, { role: 'peer', id: 7 })
    const sent = performance.now()
    c.send({ type: 'req-chunk', reqId: 1, index: 0, file: 'f' })
    c.send({ type: 'req-chunk', reqId: 2, index: 1, file: 'f' })
    const first = await c.next('chunk')
    const second = await c.next('chunk')
    const elapsedUs = (performance.now() - sent) * 1000
    assert.deepEqual([first.reqId, second.reqId], [1, 2])
    assert.equal(second.data.toString(), hashes[1])
    // The second waited for the cap: at least its 100 ms, and never more than we waited for it.
    assert.ok(second.holdUs >= 95_000, `hold ${second.holdUs} µs`)
    assert.ok(second.holdUs <= elapsedUs, `hold ${second.holdUs} µs, answered after ${elapsedUs} µs`)
    assert.ok(first.holdUs < second.holdUs, `first ${first.holdUs} µs, second ${second.holdUs} µs`)
  })
})
