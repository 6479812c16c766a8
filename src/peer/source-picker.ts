import type { CandidateIndex } from './candidate-index.ts'

/** What the picker needs to know about one source. */
export interface SourceView {
  id: number
  /** Upload count from the last swarm answer plus what we asked of it since. Lower is preferred. */
  score: number
  inFlight: number
  /** Requests in flight it may have; default PickInput.perSourceLimit. */
  limit?: number
  /** False once this source has given its fair share of the file: others are asked first. */
  withinShare: boolean
  /** False while we know nothing of what it holds, or when it is being avoided. */
  usable: boolean
  has: (index: number) => boolean
}

/** Input of {@link pickRequest}. */
export interface PickInput {
  sources: readonly SourceView[]
  /** Segments we lack that are not in flight. */
  candidates: readonly number[]
  /** How many known sources hold a segment (rarest first). */
  availability: (index: number) => number
  /** A per-peer random rank, so that peers starting together choose different segments. */
  tiebreak: (index: number) => number
  perSourceLimit: number
}

/** One request to make. */
export interface Pick { source: number, index: number }

/**
 * Chooses the next request: among sources within their share of the file, the one with the fewest
 * uploads (ties: fewer requests in flight, then id)
 * that has a free slot and holds a segment we need, and of its segments the rarest (ties: tiebreak).
 * Pure: no clocks, no I/O. Looks at every candidate: the download engine keeps a
 * {@link CandidateIndex} and uses {@link pickIndexed}, which picks the same.
 */
export function pickRequest (input: PickInput): Pick | null {
  return pickInOrder(input.sources, input.perSourceLimit, accept => {
    let best = -1
    let bestAvail = Infinity
    let bestTie = Infinity
    for (const i of input.candidates) {
      if (!accept(i)) continue
      const av = input.availability(i)
      if (av > bestAvail) continue
      const tie = input.tiebreak(i)
      if (av < bestAvail || tie < bestTie) { best = i; bestAvail = av; bestTie = tie }
    }
    return best
  })
}

/**
 * {@link pickRequest} over the candidates of `index`, with their availability and order from it:
 * for each source it stops at the first candidate that source may serve.
 */
export function pickIndexed (input: { sources: readonly SourceView[], index: CandidateIndex, perSourceLimit: number }): Pick | null {
  return pickInOrder(input.sources, input.perSourceLimit, accept => input.index.best(accept))
}

/**
 * The source order and the segments each may serve, shared by both pickers: `bestFor` returns the
 * rarest candidate the given predicate accepts, or -1.
 */
function pickInOrder (sources: readonly SourceView[], perSourceLimit: number, bestFor: (accept: (i: number) => boolean) => number): Pick | null {
  const order = sources.filter(s => s.usable && s.inFlight < (s.limit ?? perSourceLimit))
  order.sort((a, b) => Number(b.withinShare) - Number(a.withinShare) || a.score - b.score || a.inFlight - b.inFlight || a.id - b.id)
  const fair = sources.filter(s => s.usable && s.withinShare)
  for (const s of order) {
    // A source past its share is asked only for what no source within its share holds, even a busy one.
    const best = bestFor(s.withinShare ? s.has : i => s.has(i) && !fair.some(f => f.has(i)))
    if (best >= 0) return { source: s.id, index: best }
  }
  return null
}
