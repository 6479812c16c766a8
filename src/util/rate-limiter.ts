/** A caller waiting for its turn. */
interface Waiter { n: number, key: number, seq: number, go: () => void }

/**
 * Token bucket shared by all uploads of one process: `rateBytesPerSec` sustained, bursts up to
 * `burstBytes`. `take(n, key)` waits until n bytes may go. Waiters go smallest key first (equal keys in
 * the order they came); a waiter chosen while the bucket is in debt waits out the debt.
 */
export class RateLimiter {
  readonly rate: number
  readonly burst: number
  private tokens: number
  private last: number
  private readonly waiting: Waiter[] = []
  private seq = 0
  /** Set while the chosen waiter waits out a debt. */
  private timer: NodeJS.Timeout | null = null

  constructor (rateBytesPerSec: number, burstBytes?: number) {
    if (!(rateBytesPerSec > 0)) throw new RangeError('rate must be positive')
    this.rate = rateBytesPerSec
    this.burst = burstBytes ?? Math.max(64 * 1024, rateBytesPerSec / 20)
    this.tokens = this.burst
    this.last = performance.now()
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
  }

  /**
   * Resolves when `n` bytes may be sent (a debt larger than the burst is paid off over time). `key`
   * orders the waiters, smallest first; by default the time of the call, which makes the order FIFO.
   */
  async take (n: number, key: number = performance.now()): Promise<void> {
    await new Promise<void>(resolve => {
      this.waiting.push({ n, key, seq: this.seq++, go: resolve })
      this.pump()
    })
  }

  private pump (): void {
    while (this.timer === null && this.waiting.length > 0) {
      let at = 0
      for (let i = 1; i < this.waiting.length; i++) {
        const w = this.waiting[i] as Waiter
        const best = this.waiting[at] as Waiter
        if (w.key < best.key || (w.key === best.key && w.seq < best.seq)) at = i
      }
      const w = this.waiting[at] as Waiter
      this.waiting[at] = this.waiting[this.waiting.length - 1] as Waiter
      this.waiting.pop()
      this.refill()
      this.tokens -= w.n
      if (this.tokens >= 0) { w.go(); continue }
      this.timer = setTimeout(() => {
        this.timer = null
        this.refill()
        w.go()
        this.pump()
      }, (-this.tokens / this.rate) * 1000)
    }
  }
}

/** Parses "20MiB", "512k", "1.5MB", "1000" (bytes per second). */
export function parseRate (text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)(i?)[bB]?(?:\/s)?\s*$/.exec(text)
  if (m === null) throw new RangeError(`not a rate: "${text}" (examples: 20MiB, 512KiB, 1000000)`)
  const base = m[3] === 'i' ? 1024 : 1000
  const exp = { '': 0, k: 1, m: 2, g: 3 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g']
  const v = Number(m[1]) * base ** exp
  if (!(v > 0)) throw new RangeError(`rate must be positive: "${text}"`)
  return v
}
