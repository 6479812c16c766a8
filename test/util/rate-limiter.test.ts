import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseRate, RateLimiter } from '../../src/util/rate-limiter.ts'

describe('parseRate', () => {
  it('reads binary and decimal units', () => {
    assert.equal(parseRate('20MiB'), 20 * 1024 * 1024)
    assert.equal(parseRate('512KiB'), 512 * 1024)
    assert.equal(parseRate('1.5MB'), 1_500_000)
    assert.equal(parseRate('1000'), 1000)
    assert.equal(parseRate('2G'), 2e9)
    assert.equal(parseRate('20MiB/s'), 20 * 1024 * 1024)
  })
  it('refuses nonsense', () => {
    for (const bad of ['', 'fast', '-1', '0', '1XB', 'MiB']) assert.throws(() => parseRate(bad), RangeError, bad)
  })
})

describe('RateLimiter', () => {
  it('lets a burst through at once and makes a debt wait (mocked clock)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const limiter = new RateLimiter(1000, 1000)
    let done = false
    await limiter.take(1000) // within the burst: no wait
    const p = limiter.take(500).then(() => { done = true })
    await Promise.resolve()
    await Promise.resolve()
    assert.equal(done, false)
    t.mock.timers.tick(600)
    await p
    assert.equal(done, true)
  })
})

describe('RateLimiter order', () => {
  it('lets the smallest key go first among those waiting, equal keys in arrival order (mocked clock)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const limiter = new RateLimiter(1000, 1000)
    const order: string[] = []
    await limiter.take(1000) // the burst is spent: each one chosen from now on waits out its debt
    const waits = [
      limiter.take(100, 5).then(() => order.push('a5')),
      limiter.take(100, 1).then(() => order.push('b1')),
      limiter.take(100, 3).then(() => order.push('c3')),
      limiter.take(100, 1).then(() => order.push('d1'))
    ]
    // The first waiter was chosen at once (nothing else was waiting); the rest go by key.
    for (let i = 0; i < 20; i++) { t.mock.timers.tick(1000); await Promise.resolve(); await Promise.resolve() }
    await Promise.all(waits)
    assert.deepEqual(order, ['a5', 'b1', 'd1', 'c3'])
  })
})
