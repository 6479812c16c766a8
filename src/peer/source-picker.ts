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
 * Pure: no clocks, no I/O.
 */
export function pickRequest (input: PickInput): Pick | null {
  const order = [...input.sources].filter(s => s.usable && s.inFlight < (s.limit ?? input.perSourceLimit))
  order.sort((a, b) => Number(b.withinShare) - Number(a.withinShare) || a.score - b.score || a.inFlight - b.inFlight || a.id - b.id)
  const fair = input.sources.filter(s => s.usable && s.withinShare)
  for (const s of order) {
    let best = -1
    let bestAvail = Infinity
    let bestTie = Infinity
    for (const i of input.candidates) {
      if (!s.has(i)) continue
      // A source past its share is asked only for what no source within its share holds, even a busy one.
      if (!s.withinShare && fair.some(f => f.has(i))) continue
      const av = input.availability(i)
      if (av > bestAvail) continue
      const tie = input.tiebreak(i)
      if (av < bestAvail || tie < bestTie) { best = i; bestAvail = av; bestTie = tie }
    }
    if (best >= 0) return { source: s.id, index: best }
  }
  return null
}
