import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CandidateIndex } from '../../src/peer/candidate-index.ts'
import { pickIndexed, pickRequest } from '../../src/peer/source-picker.ts'
import type { PickInput, SourceView } from '../../src/peer/source-picker.ts'

function source (id: number, holds: number[], over: Partial<Omit<SourceView, 'id' | 'has'>> = {}): SourceView {
  const set = new Set(holds)
  return { id, score: 0, inFlight: 0, withinShare: true, usable: true, has: i => set.has(i), ...over }
}

/** Availability counted from the sources themselves, tiebreak = identity unless given. */
function input (sources: SourceView[], candidates: number[], over: Partial<PickInput> = {}): PickInput {
  return {
    sources,
    candidates,
    availability: i => sources.filter(s => s.has(i)).length,
    tiebreak: i => i,
    perSourceLimit: 4,
    ...over
  }
}

/** Up to 6 sources with distinct ids, each holding some of segments 0..segments-1. */
function sourcesArb (segments: number): fc.Arbitrary<SourceView[]> {
  const one = fc.record({
    id: fc.integer({ min: 0, max: 20 }),
    score: fc.integer({ min: 0, max: 3 }),
    inFlight: fc.integer({ min: 0, max: 3 }),
    usable: fc.boolean(),
    withinShare: fc.boolean(),
    holds: fc.uniqueArray(fc.integer({ min: 0, max: segments - 1 }), { maxLength: segments })
  })
  return fc.uniqueArray(one, { selector: r => r.id, maxLength: 6 })
    .map(raw => raw.map(r => source(r.id, r.holds, { score: r.score, inFlight: r.inFlight, usable: r.usable, withinShare: r.withinShare })))
}

describe('pickRequest', () => {
  it('picks the source with the lowest score', () => {
    const sources = [source(1, [0], { score: 5 }), source(2, [0], { score: 1 }), source(3, [0], { score: 3 })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 2, index: 0 })
  })

  it('with equal scores prefers fewer requests in flight', () => {
    const sources = [source(1, [0], { score: 2, inFlight: 3 }), source(2, [0], { score: 2, inFlight: 1 }), source(3, [0], { score: 2, inFlight: 2 })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 2, index: 0 })
  })

  it('score wins over in-flight count', () => {
    const sources = [source(1, [0], { score: 1, inFlight: 3 }), source(2, [0], { score: 2, inFlight: 0 })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 1, index: 0 })
  })

  it('with equal score and in-flight count prefers the lower id, whatever the order given', () => {
    const sources = [source(9, [0]), source(4, [0]), source(7, [0])]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 4, index: 0 })
  })

  it('respects perSourceLimit', () => {
    const sources = [source(1, [0], { score: 0, inFlight: 2 }), source(2, [0], { score: 9, inFlight: 1 })]
    assert.deepEqual(pickRequest(input(sources, [0], { perSourceLimit: 2 })), { source: 2, index: 0 })
    assert.equal(pickRequest(input(sources, [0], { perSourceLimit: 1 })), null)
    assert.deepEqual(pickRequest(input(sources, [0], { perSourceLimit: 3 })), { source: 1, index: 0 })
  })

  it('skips unusable sources', () => {
    const sources = [source(1, [0], { score: 0, usable: false }), source(2, [0], { score: 5 })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 2, index: 0 })
  })

  it('moves on to the next source when the best one holds no candidate', () => {
    const sources = [source(1, [7], { score: 0 }), source(2, [3], { score: 1 })]
    assert.deepEqual(pickRequest(input(sources, [3])), { source: 2, index: 3 })
  })

  it('picks the rarest segment the chosen source holds', () => {
    const sources = [source(1, [0, 1, 2], { score: 0 }), source(2, [0, 2], { score: 1 }), source(3, [0], { score: 1 })]
    // availability: 0 -> 3, 1 -> 1, 2 -> 2
    assert.deepEqual(pickRequest(input(sources, [0, 1, 2])), { source: 1, index: 1 })
    assert.deepEqual(pickRequest(input(sources, [0, 2])), { source: 1, index: 2 })
  })

  it('breaks rarity ties with tiebreak, in either candidate order', () => {
    const sources = [source(1, [0, 1, 2, 3])]
    const tiebreak = (i: number): number => [5, 2, 9, 2.5][i] as number
    assert.deepEqual(pickRequest(input(sources, [0, 1, 2, 3], { tiebreak })), { source: 1, index: 1 })
    assert.deepEqual(pickRequest(input(sources, [3, 2, 1, 0], { tiebreak })), { source: 1, index: 1 })
  })

  it('rarity wins over tiebreak', () => {
    const sources = [source(1, [0, 1]), source(2, [0])]
    assert.deepEqual(pickRequest(input(sources, [0, 1], { tiebreak: i => (i === 0 ? 0 : 100) })), { source: 1, index: 1 })
  })

  it('segment 0 can be picked', () => {
    assert.deepEqual(pickRequest(input([source(1, [0])], [0])), { source: 1, index: 0 })
  })

  it('returns null when no usable source has a candidate', () => {
    assert.equal(pickRequest(input([], [0, 1])), null)
    assert.equal(pickRequest(input([source(1, [0, 1])], [])), null)
    assert.equal(pickRequest(input([source(1, [5])], [0, 1])), null)
    assert.equal(pickRequest(input([source(1, [0], { usable: false }), source(2, [1], { inFlight: 4 })], [0, 1])), null)
  })

  it('prefers a source within its share over one past it, whatever their scores', () => {
    const sources = [source(1, [0], { score: 0, withinShare: false }), source(2, [0], { score: 9, inFlight: 3 })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 2, index: 0 })
  })

  it('asks a source past its share only for what no usable source within its share holds, even a busy one', () => {
    const past = source(1, [0, 1], { withinShare: false })
    const busy = source(2, [0], { inFlight: 4 })
    // segment 0 waits for the busy fair source; segment 1 only the past-share source holds
    assert.deepEqual(pickRequest(input([past, busy], [0, 1])), { source: 1, index: 1 })
    assert.equal(pickRequest(input([past, busy], [0])), null)
  })

  it('an unusable source within its share does not hold back one past it', () => {
    const past = source(1, [0], { withinShare: false })
    const gone = source(2, [0], { usable: false })
    assert.deepEqual(pickRequest(input([past, gone], [0])), { source: 1, index: 0 })
  })

  it('when every source is past its share, the usual order applies', () => {
    const sources = [source(1, [0], { score: 3, withinShare: false }), source(2, [0], { score: 1, withinShare: false })]
    assert.deepEqual(pickRequest(input(sources, [0])), { source: 2, index: 0 })
  })

  it('does not reorder the caller\'s sources array', () => {
    const sources = [source(3, [0], { score: 3 }), source(1, [0], { score: 1 })]
    pickRequest(input(sources, [0]))
    assert.deepEqual(sources.map(s => s.id), [3, 1])
  })

  it('property: the pick is the best source that may serve a candidate, and its rarest such candidate', () => {
    fc.assert(fc.property(
      sourcesArb(10),
      fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { maxLength: 10 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 10, maxLength: 10 }),
      fc.integer({ min: 1, max: 3 }),
      (sources, candidates, ties, perSourceLimit) => {
        const inp = input(sources, candidates, { perSourceLimit, tiebreak: i => ties[i] as number })
        const pick = pickRequest(inp)
        const fair = sources.filter(s => s.usable && s.withinShare)
        // what a source may be asked for: anything it holds if within its share, else only what no fair source holds
        const allowed = (s: SourceView, c: number): boolean => s.has(c) && (s.withinShare || !fair.some(f => f.has(c)))
        const serving = sources.filter(s => s.usable && s.inFlight < perSourceLimit && candidates.some(c => allowed(s, c)))
        if (serving.length === 0) { assert.equal(pick, null); return }
        assert.ok(pick !== null)
        const key = (s: SourceView): number[] => [s.withinShare ? 0 : 1, s.score, s.inFlight, s.id]
        const cmp = (a: SourceView, b: SourceView): number => {
          const [ka, kb] = [key(a), key(b)]
          for (let k = 0; k < ka.length; k++) if (ka[k] !== kb[k]) return (ka[k] as number) - (kb[k] as number)
          return 0
        }
        const best = [...serving].sort(cmp)[0] as SourceView
        assert.equal(pick.source, best.id)
        assert.ok(candidates.includes(pick.index) && allowed(best, pick.index))
        for (const c of candidates) {
          if (!allowed(best, c)) continue
          const [pa, pt] = [inp.availability(pick.index), inp.tiebreak(pick.index)]
          const [ca, ct] = [inp.availability(c), inp.tiebreak(c)]
          assert.ok(pa < ca || (pa === ca && pt <= ct), `segment ${c} (avail ${ca}, tie ${ct}) beats ${pick.index} (avail ${pa}, tie ${pt})`)
        }
      }), { seed: 42, numRuns: 1000 })
  })

  it('property: pickIndexed over a CandidateIndex picks what pickRequest picks over the same candidates', () => {
    fc.assert(fc.property(
      sourcesArb(40),
      fc.uniqueArray(fc.integer({ min: 0, max: 39 }), { maxLength: 40 }),
      fc.uniqueArray(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }), // distinct, like random()
      fc.integer({ min: 1, max: 3 }),
      (sources, candidates, ties, perSourceLimit) => {
        const inp = input(sources, candidates, { perSourceLimit, tiebreak: i => ties[i] as number })
        const index = new CandidateIndex(ties)
        for (const c of candidates) index.add(c)
        for (let i = 0; i < 40; i++) index.bump(i, inp.availability(i))
        assert.deepEqual(pickIndexed({ sources, index, perSourceLimit }), pickRequest(inp))
      }), { seed: 11, numRuns: 1000 })
  })
})

