import { segmentBuffers } from '../util/buffer-pool.ts'

/**
 * The segments most recently stored, kept in memory up to a byte budget (oldest out first).
 * A peer that just got a segment announces it, and other peers ask for it soon after: serving those
 * requests from here saves a read from disk (a kernel copy) per upload. Buffers come from
 * {@link segmentBuffers}; the cache holds one reference to each, and every buffer get() returns
 * carries a reference its caller gives back.
 */
export class RecentSegments {
  private readonly map = new Map<string, Buffer>()
  private bytes = 0
  private readonly budget: number
  hits = 0
  misses = 0

  constructor (budgetBytes: number) { this.budget = budgetBytes }

  private static key (file: string, index: number): string { return `${index}\0${file}` }

  /** Keeps `data` (a buffer from the pool that stays unchanged) as segment `index` of `file`. */
  put (file: string, index: number, data: Buffer): void {
    if (data.length > this.budget) return
    const key = RecentSegments.key(file, index)
    if (this.map.has(key)) return
    segmentBuffers.retain(data)
    this.map.set(key, data)
    this.bytes += data.length
    for (const [k, old] of this.map) {
      if (this.bytes <= this.budget) break
      this.map.delete(k)
      this.bytes -= old.length
      segmentBuffers.give(old)
    }
  }

  /** The segment if kept, with one more reference for the caller to give back; else undefined. */
  get (file: string, index: number): Buffer | undefined {
    const data = this.map.get(RecentSegments.key(file, index))
    if (data === undefined) { this.misses++; return undefined }
    this.hits++
    segmentBuffers.retain(data)
    return data
  }

  /** Drops everything. */
  clear (): void {
    for (const data of this.map.values()) segmentBuffers.give(data)
    this.map.clear()
    this.bytes = 0
  }
}
