import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CandidateIndex } from '../../src/peer/candidate-index.ts'

/** What CandidateIndex.best must find, by looking at every candidate. */
function naiveBest (members: Set<number>, avail: number[], tie: number[], accept: (i: number) => boolean): number {
  let best = -1
  for (const i of members) {
    if (!accept(i)) continue
    const a = Math.max(0, avail[i] as number)
    const b = best < 0 ? Infinity : Math.max(0, avail[best] as number)
    if (best < 0 || a < b || (a === b && ((tie[i] as number) < (tie[best] as number) || (tie[i] === tie[best] && i < best)))) best = i
  }
  return best
}

describe('CandidateIndex', () => {
  it('finds the rarest candidate first, then the lowest tiebreak, and skips what the predicate refuses', () => {
    const idx = new CandidateIndex([0.5, 0.1, 0.9, 0.3])
    for (const i of [0, 1, 2, 3]) idx.add(i)
    idx.bump(1, 2) // held by two sources
    idx.bump(0, 1)
    idx.bump(3, 1)
    assert.equal(idx.best(() => true), 2, 'segment 2: held by nobody')
    assert.equal(idx.best(i => i !== 2), 3, 'then availability 1, lower tiebreak first (0.3 before 0.5)')
    idx.remove(3)
    assert.equal(idx.best(i => i !== 2), 0)
    assert.equal(idx.best(i => i === 1), 1)
    assert.equal(idx.best(() => false), -1)
    assert.equal(idx.size, 3)
    assert.equal(idx.availability(1), 2)
  })

  it('keeps availability of segments that are not candidates, for when they come back', () => {
    const idx = new CandidateIndex([0.2, 0.1])
    idx.bump(1, 3)
    idx.add(0)
    idx.add(1)
    assert.equal(idx.best(() => true), 0)
    idx.remove(0)
    idx.bump(0, 5)
    idx.add(0)
    assert.equal(idx.best(() => true), 1, 'segment 0 came back with availability 5')
  })

  it('works across word boundaries (more than 32 segments), rank 31 included', () => {
    const n = 100
    const idx = new CandidateIndex(Array.from({ length: n }, (_, i) => n - i)) // rank r holds segment n-1-r
    for (let i = 0; i < n; i++) idx.add(i)
    const seen: number[] = []
    for (let k = 0; k < n; k++) {
      const i = idx.best(() => true)
      seen.push(i)
      idx.remove(i)
    }
    assert.deepEqual(seen, Array.from({ length: n }, (_, k) => n - 1 - k))
    assert.equal(idx.best(() => true), -1)
  })

  it('property: after any sequence of adds, removes and availability changes, best() is what a full scan finds', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), i: fc.nat(69) }),
      fc.record({ kind: fc.constant('remove' as const), i: fc.nat(69) }),
      fc.record({ kind: fc.constant('bump' as const), i: fc.nat(69), d: fc.integer({ min: -2, max: 3 }) }),
      fc.record({ kind: fc.constant('best' as const), mod: fc.integer({ min: 1, max: 4 }), rest: fc.nat(3) })
    )
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 70, maxLength: 70 }), // tiebreaks with ties
      fc.array(op, { maxLength: 200 }),
      (tie, ops) => {
        const idx = new CandidateIndex(tie)
        const members = new Set<number>()
        const avail: number[] = new Array(70).fill(0)
        for (const o of ops) {
          if (o.kind === 'add') { idx.add(o.i); members.add(o.i) }
          if (o.kind === 'remove') { idx.remove(o.i); members.delete(o.i) }
          if (o.kind === 'bump') { idx.bump(o.i, o.d); avail[o.i] = (avail[o.i] as number) + o.d }
          if (o.kind === 'best') {
            const accept = (i: number): boolean => i % o.mod === o.rest % o.mod
            assert.equal(idx.best(accept), naiveBest(members, avail, tie, accept))
          }
          assert.equal(idx.size, members.size)
        }
        assert.equal(idx.best(() => true), naiveBest(members, avail, tie, () => true))
      }), { seed: 7, numRuns: 500 })
  })
})
