import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FileMeta } from '../../src/protocol/messages.ts'
import { TrackerLink } from '../../src/peer/tracker-link.ts'
import { Tracker } from '../../src/tracker/server.ts'

const meta: FileMeta = { name: 'f.bin', size: 10, segmentSize: 8, algo: 'sha256', hashes: Buffer.alloc(64, 7) }

describe('Tracker: upload counts in swarm answers (127.0.0.1, real sockets)', () => {
  it('answers a first request (with metadata) at once, and polls the members before a later one', async t => {
    const tracker = new Tracker({ secret: null })
    const { host, port } = await tracker.listen('127.0.0.1', 0)
    t.after(async () => { await tracker.close() })
    let polls = 0
    const seed = await TrackerLink.connect(host, port, { id: 0, secret: null, uploads: () => { polls++; return 7 } })
    const getter = await TrackerLink.connect(host, port, { id: 0, secret: null, uploads: () => 0 })
    t.after(async () => { await Promise.all([seed.close(), getter.close()]) })
    const seedId = await seed.register('127.0.0.1', 4001, [meta], [])
    await getter.register('127.0.0.1', 4002, [], [])

    const first = await getter.swarm('f.bin', true)
    assert.equal(first.meta?.name, 'f.bin')
    assert.deepEqual(first.members.map(m => [m.id, m.uploads, m.seed]), [[seedId, 0, true]])
    assert.equal(polls, 0, 'the first answer waited for a poll')

    const later = await getter.swarm('f.bin', false)
    assert.equal(polls, 1)
    assert.deepEqual(later.members.map(m => [m.id, m.uploads]), [[seedId, 7]])
  })
})
