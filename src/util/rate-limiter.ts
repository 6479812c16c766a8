/**
 * Token bucket shared by all uploads of one process: `rateBytesPerSec` sustained, bursts up to
 * `burstBytes`. `take(n)` waits until n bytes may go; requests are served in order.
 */
export class RateLimiter {
  readonly rate: number
  readonly burst: number
  private tokens: number
  private last: number
  private chain: Promise<void> = Promise.resolve()

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

  /** Resolves when `n` bytes may be sent (a debt larger than the burst is paid off over time). */
  async take (n: number): Promise<void> {
    const turn = this.chain.then(async () => {
      this.refill()
      this.tokens -= n
      if (this.tokens < 0) {
        const waitMs = (-this.tokens / this.rate) * 1000
        await new Promise(resolve => setTimeout(resolve, waitMs))
        this.refill()
      }
    })
    this.chain = turn
    await turn
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
