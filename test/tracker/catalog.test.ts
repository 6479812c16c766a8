import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FileMeta } from '../../src/protocol/messages.ts'
import { Catalog, CatalogConflictError } from '../../src/tracker/catalog.ts'

const meta = (name: string, fill = 1): FileMeta => ({ name, size: 10, segmentSize: 8, algo: 'sha256', hashes: Buffer.alloc(64, fill) })

describe('Catalog', () => {
  it('keeps seeds and peers per file and never which segments anyone holds', () => {
    const c = new Catalog()
    c.addSeed(1, meta('a'))
    c.addSeed(2, meta('a'))
    assert.equal(c.join(3, 'a')?.peers.has(3), true)
    assert.equal(c.join(1, 'a')?.peers.has(1), false, 'a seed asking for the swarm stays a seed')
    assert.deepEqual(c.list(''), [{ name: 'a', size: 10, segments: 2, seeds: 2, peers: 1 }])
    assert.equal(c.markDone(3, 'a'), true)
    assert.deepEqual(c.list('a'), [{ name: 'a', size: 10, segments: 2, seeds: 3, peers: 0 }])
  })

  it('refuses a different file under a known name (by file id)', () => {
    const c = new Catalog()
    c.addSeed(1, meta('a'))
    assert.throws(() => { c.addSeed(2, meta('a', 2)) }, CatalogConflictError)
  })

  it('drops members and forgets files nobody holds', () => {
    const c = new Catalog()
    c.addSeed(1, meta('a'))
    c.addSeed(1, meta('logs/b.csv'))
    c.join(2, 'a')
    c.removeMember(1)
    assert.deepEqual(c.list('').map(e => [e.name, e.seeds, e.peers]), [['a', 0, 1]])
    c.removeMember(2)
    assert.equal(c.size, 0)
  })

  it('filters by glob', () => {
    const c = new Catalog()
    for (const n of ['logs/a.csv', 'logs/b.txt', 'other/c.csv']) c.addSeed(1, meta(n))
    assert.deepEqual(c.list('logs/*.csv').map(e => e.name), ['logs/a.csv'])
    assert.deepEqual(c.list('**/*.csv').map(e => e.name), ['logs/a.csv', 'other/c.csv'])
  })
})
