import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { segmentBuffers } from '../../src/util/buffer-pool.ts'
import { RecentSegments } from '../../src/storage/recent-segments.ts'

const SEG = 128 * 1024

function segment (fill: number): Buffer {
  const b = segmentBuffers.take(SEG)
  b.fill(fill)
  return b
}

describe('RecentSegments', () => {
  it('serves kept segments with a reference of their own, and drops the oldest past the budget', () => {
    const recent = new RecentSegments(2 * SEG)
    const s0 = segment(0)
    const s1 = segment(1)
    const s2 = segment(2)
    recent.put('f', 0, s0)
    recent.put('f', 1, s1)
    for (const s of [s0, s1]) { segmentBuffers.give(s); assert.equal(segmentBuffers.holders(s), 1, 'the cache holds one reference') }
    const got = recent.get('f', 1)
    assert.equal(got, s1)
    assert.equal(segmentBuffers.holders(s1), 2)
    recent.put('f', 2, s2)
    segmentBuffers.give(s2)
    assert.equal(recent.get('f', 0), undefined, 'the oldest went out')
    assert.equal(segmentBuffers.holders(s0), 0, 'and its memory went back to the pool')
    assert.equal(recent.get('g', 1), undefined, 'other files do not match')
    recent.clear()
    assert.equal(segmentBuffers.holders(s1), 1, 'the reader still holds its copy after clear')
    segmentBuffers.give(s1)
    assert.equal(segmentBuffers.holders(s2), 0)
    assert.deepEqual([recent.hits, recent.misses], [1, 2])
  })

  it('does not keep a segment twice or one larger than the budget', () => {
    const recent = new RecentSegments(SEG)
    const a = segment(7)
    recent.put('f', 0, a)
    recent.put('f', 0, a)
    assert.equal(segmentBuffers.holders(a), 2)
    const big = segmentBuffers.take(2 * SEG)
    recent.put('f', 1, big)
    assert.equal(recent.get('f', 1), undefined)
    assert.equal(segmentBuffers.holders(big), 1)
    recent.clear()
    segmentBuffers.give(a)
    segmentBuffers.give(big)
  })
})
