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
