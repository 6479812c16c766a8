import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { LinkPacing } from '../../src/peer/link-pacing.ts'

/**
 * Answers of a source that keeps `window` requests in flight: round trip `rtt` ms, `service` ms per
 * segment at the source (its cap or its link), `hold` ms of queueing there reported in each CHUNK.
 */
function pipelined (rtt: number, service: number, window: number, n: number, hold = 0): LinkPacing {
  const p = new LinkPacing()
  const done: number[] = []
  for (let k = 0; k < n; k++) {
    const sent = k < window ? 0 : done[k - window] as number
    // The source starts on it once it has it and is done with the one before.
    const start = Math.max(sent + rtt / 2 + hold, k === 0 ? 0 : (done[k - 1] as number) - rtt / 2)
    const first = start + rtt / 2
    done[k] = first + service
    p.record(sent, first, done[k] as number, start - (sent + rtt / 2))
  }
  return p
}

describe('LinkPacing', () => {
  it('asks for nothing extra before the first answer', () => {
    assert.equal(new LinkPacing().extraRequests(14), 0)
  })

  it('asks for nothing extra on loopback, where a round trip is a sliver of a segment', () => {
    // 0.2 ms round trip, 50 ms a segment (a 20 MiB/s cap), one request at a time.
    const p = pipelined(0.2, 50, 1, 20)
    assert.ok(Math.abs(p.roundTripMs - 0.2) < 1e-9, String(p.roundTripMs))
    assert.equal(p.extraRequests(14), 0)
  })

  it('covers a long round trip to a fast source with more requests, up to the cap', () => {
    // 40 ms round trip, 2.5 ms a segment: 16 requests would keep it busy; the cap is 14.
    const p = pipelined(40, 2.5, 2, 30)
    assert.ok(Math.abs(p.roundTripMs - 40) < 1e-9, String(p.roundTripMs))
    assert.ok(Math.abs(p.serviceMs - 2.5) < 0.01, String(p.serviceMs))
    assert.equal(p.extraRequests(14), 14)
    assert.equal(p.extraRequests(100), 16)
  })

  it('asks a capped source far away for just enough', () => {
    // 120 ms round trip, 50 ms a segment at the source's cap: 2 more than the base.
    assert.equal(pipelined(120, 50, 1, 20).extraRequests(14), 2)
    assert.equal(pipelined(120, 50, 3, 20).extraRequests(14), 2)
  })

  it('does not take queueing at the source for distance', () => {
    // Each request waits 300 ms at a busy source (other requesters, its cap), which it reports.
    const p = pipelined(0.3, 1, 1, 20, 300)
    assert.ok(p.roundTripMs < 0.31, String(p.roundTripMs))
    assert.equal(p.extraRequests(14), 0)
    // The same wait unreported looks like a long link, which is what the CHUNK's hold time is for.
    const blind = new LinkPacing()
    blind.record(0, 300.3, 301.3, 0)
    assert.ok(blind.extraRequests(14) > 0)
  })

  it('ignores answers without an arrival time', () => {
    const p = new LinkPacing()
    p.record(0, Number.NaN, 5, 0)
    assert.equal(p.roundTripMs, Number.POSITIVE_INFINITY)
    assert.ok(Number.isNaN(p.serviceMs))
    assert.equal(p.extraRequests(14), 0)
  })

  it('always answers a whole number between 0 and the cap', () => {
    const answer = fc.record({ sent: fc.double({ min: 0, max: 1e6, noNaN: true }), wait: fc.double({ min: 0, max: 1e4, noNaN: true }), take: fc.double({ min: 0, max: 1e4, noNaN: true }), held: fc.double({ min: 0, max: 2e4, noNaN: true }) })
    fc.assert(fc.property(fc.array(answer, { maxLength: 30 }), fc.integer({ min: 0, max: 64 }), (answers, cap) => {
      const p = new LinkPacing()
      for (const a of answers) p.record(a.sent, a.sent + a.wait, a.sent + a.wait + a.take, a.held)
      const extra = p.extraRequests(cap)
      return Number.isInteger(extra) && extra >= 0 && extra <= cap
    }))
  })
})
