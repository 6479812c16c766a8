/**
 * The deepest request pipeline an honest getter keeps to one source (the downloader's cap on a long
 * link), and so the least `--max-requests` an uploader may set. 16 segments of 1 MiB cover a 1 Gbit/s
 * link with a round trip of up to about 130 ms.
 */
export const MAX_PIPELINE = 16

/** Weight of a new service-time sample in the moving average (1/8, as TCP's smoothed RTT). */
const SERVICE_GAIN = 1 / 8

/**
 * How many requests one link needs in flight to keep its source busy, from the answers it got
 * (a getter's view of the bandwidth-delay product, per source). Pure: times are passed in (ms).
 *
 * - The round trip is the least, over the link's answers, of first byte received − request sent −
 *   the time the request waited at the source (which the source reports in the CHUNK: its queue,
 *   its upload cap, other requesters). Queueing at the source is thus not mistaken for distance.
 * - The service time is how long the source takes per segment for us once it can start on it: from
 *   the later of the previous answer's end and the earliest this one could have begun arriving (sent +
 *   round trip) to its end; a moving average. It includes the source's upload cap and its other
 *   requesters, so a busy or capped source asks for no deeper pipeline.
 *
 * While an answer is on its way back the source idles unless more requests wait there: a link needs
 * floor(round trip / service time) requests beyond the base pipeline. On loopback and LANs the round
 * trip is a small fraction of a segment's service time, and this is 0.
 */
export class LinkPacing {
  private rttMin = Number.POSITIVE_INFINITY
  private service = Number.NaN
  private lastDone = Number.NEGATIVE_INFINITY

  /** Least round trip seen so far (ms); Infinity before the first answer. */
  get roundTripMs (): number { return this.rttMin }
  /** Smoothed service time per segment (ms); NaN before the first answer. */
  get serviceMs (): number { return this.service }

  /**
   * Records one segment answer: its request sent at `sentAt`, its first byte received at `firstByteAt`,
   * its last at `doneAt`, after waiting `heldMs` at the source.
   */
  record (sentAt: number, firstByteAt: number, doneAt: number, heldMs: number): void {
    if (!Number.isFinite(firstByteAt)) return // no arrival time (a connection that does not stamp frames)
    // Never negative: the source's clock only measures a span, which cannot exceed ours.
    const rtt = Math.max(0, firstByteAt - sentAt - heldMs)
    if (rtt < this.rttMin) this.rttMin = rtt
    const start = Math.max(this.lastDone, sentAt + this.rttMin)
    const took = Math.max(0, doneAt - start)
    this.service = Number.isNaN(this.service) ? took : this.service + (took - this.service) * SERVICE_GAIN
    this.lastDone = Math.max(this.lastDone, doneAt)
  }

  /** Requests beyond the base pipeline this link needs: floor(round trip / service time), at most `cap`. */
  extraRequests (cap: number): number {
    if (!(this.rttMin > 0) || !Number.isFinite(this.rttMin) || Number.isNaN(this.service)) return 0
    if (this.service <= 0) return cap
    return Math.max(0, Math.min(cap, Math.floor(this.rttMin / this.service)))
  }
}
