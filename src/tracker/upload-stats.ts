/** Upload counts the tracker learns by polling peers (REQ_UPLD_INFO), with when each was learnt. */
export class UploadStats {
  private readonly counts = new Map<number, { uploads: number, at: number }>()
  private readonly now: () => number

  constructor (now: () => number = () => performance.now()) { this.now = now }

  uploads (peer: number): number { return this.counts.get(peer)?.uploads ?? 0 }

  /** True when the count is older than `maxAgeMs` (or unknown). */
  isStale (peer: number, maxAgeMs: number): boolean {
    const c = this.counts.get(peer)
    return c === undefined || this.now() - c.at > maxAgeMs
  }

  /** Counts only grow: a stale answer overtaken by a newer one is ignored. */
  record (peer: number, uploads: number): void {
    const prev = this.counts.get(peer)
    this.counts.set(peer, { uploads: Math.max(uploads, prev?.uploads ?? 0), at: this.now() })
  }

  remove (peer: number): void { this.counts.delete(peer) }
}
