/**
 * The segments of one download that may be asked for next (missing and not in flight), in the order
 * rarest first (fewest known sources holding it), then by a fixed random rank, so that peers starting
 * together choose different segments. {@link CandidateIndex.best} walks that order and stops at the
 * first segment a predicate accepts, and requests and answers move single segments in and out, where
 * the engine used to list every candidate again for each scheduling pass and scan them all for each
 * request: O(n²) in a download of n segments. A 1 GiB file in 64 KiB segments (16,384), one getter
 * from one seed: 11.7-13.1 s and 11.7-12.3 CPU s before, 7.1-7.7 s and 5.4-5.6 CPU s with the index
 * (scripts/perf/swarm-run.sh 1, 2 pairs, 2026-12-07). A source that holds none of the rarest
 * candidates still walks past them (scripts/perf/pick-cost.mjs: about half the time of a full scan).
 *
 * Layout: one bit set per availability value, over ranks (bit r = the segment of rank r is a
 * candidate), with a lower bound on its first non-empty word, so that walking a set skips what was
 * taken from its front.
 */
export class CandidateIndex {
  /** Candidates now. */
  size = 0
  private readonly avail: Int32Array
  private readonly rankOf: Uint32Array
  private readonly segAt: Uint32Array
  private readonly member: Uint8Array
  private readonly words: number
  /** By availability: the candidates' ranks, and how many there are. */
  private readonly sets: Uint32Array[] = []
  private readonly counts: number[] = []
  /** By availability: every word of the set before this one is zero. */
  private readonly firstWord: number[] = []

  /** `tiebreak[i]` orders segments of equal availability (lower first; equal values by index). No candidates yet. */
  constructor (tiebreak: ArrayLike<number>) {
    const total = tiebreak.length
    this.avail = new Int32Array(total)
    this.member = new Uint8Array(total)
    this.words = Math.ceil(total / 32)
    const order = Array.from({ length: total }, (_, i) => i)
    order.sort((a, b) => (tiebreak[a] as number) - (tiebreak[b] as number) || a - b)
    this.segAt = Uint32Array.from(order)
    this.rankOf = new Uint32Array(total)
    for (let r = 0; r < total; r++) this.rankOf[this.segAt[r] as number] = r
  }

  /** Known sources holding segment `i` (candidate or not). */
  availability (i: number): number { return this.avail[i] as number }

  /** Adds `delta` to the availability of segment `i`. */
  bump (i: number, delta: number): void {
    const was = this.avail[i] as number
    this.avail[i] = was + delta
    if (this.member[i] === 1) {
      this.unmark(was, i)
      this.mark(was + delta, i)
    }
  }

  /** Makes segment `i` a candidate (no-op if it is). */
  add (i: number): void {
    if (this.member[i] === 1) return
    this.member[i] = 1
    this.size++
    this.mark(this.avail[i] as number, i)
  }

  /** Takes segment `i` out of the candidates (no-op if it is not one). */
  remove (i: number): void {
    if (this.member[i] !== 1) return
    this.member[i] = 0
    this.size--
    this.unmark(this.avail[i] as number, i)
  }

  /**
   * The first candidate, rarest first and then by rank, that `accept` takes; -1 when it takes none.
   * Candidates after it are not looked at.
   */
  best (accept: (i: number) => boolean): number {
    for (let a = 0; a < this.sets.length; a++) {
      if ((this.counts[a] ?? 0) === 0) continue
      const set = this.sets[a] as Uint32Array
      let w = this.firstWord[a] as number
      while (w < this.words && set[w] === 0) w++
      this.firstWord[a] = w
      for (; w < this.words; w++) {
        let bits = set[w] as number
        while (bits !== 0) {
          const low = bits & -bits
          const i = this.segAt[w * 32 + 31 - Math.clz32(low)] as number
          if (accept(i)) return i
          bits ^= low
        }
      }
    }
    return -1
  }

  /** Availability below zero would be a bookkeeping error upstream; such segments sort as unheld. */
  private static slot (availability: number): number { return availability < 0 ? 0 : availability }

  private mark (availability: number, i: number): void {
    const a = CandidateIndex.slot(availability)
    while (this.sets.length <= a) {
      this.sets.push(new Uint32Array(this.words))
      this.counts.push(0)
      this.firstWord.push(this.words)
    }
    const r = this.rankOf[i] as number
    const w = r >>> 5
    const set = this.sets[a] as Uint32Array
    set[w] = (set[w] as number) | (1 << (r & 31))
    this.counts[a] = (this.counts[a] as number) + 1
    if (w < (this.firstWord[a] as number)) this.firstWord[a] = w
  }

  private unmark (availability: number, i: number): void {
    const a = CandidateIndex.slot(availability)
    const r = this.rankOf[i] as number
    const set = this.sets[a] as Uint32Array
    set[r >>> 5] = (set[r >>> 5] as number) & ~(1 << (r & 31))
    this.counts[a] = (this.counts[a] as number) - 1
  }
}
