import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { lingerWhileNeeded, type LingerDeps } from '../../src/peer/linger.ts'
import type { SwarmAnswer } from '../../src/peer/tracker-link.ts'

const member = (id: number, seed: boolean): SwarmAnswer['members'][number] => ({ id, host: '127.0.0.1', port: 1000 + id, uploads: 0, seed })
const answer = (...members: Array<SwarmAnswer['members'][number]>): SwarmAnswer => ({ meta: null, members } as unknown as SwarmAnswer)
const STILL_DOWNLOADING = answer(member(1, true), member(2, false))
const ALL_SEEDS = answer(member(1, true), member(2, true))
const never = new Promise<never>(() => {})

/** Deps whose tracker gives `answers` in turn (the last one repeats); counts the swarm requests. */
function deps (answers: SwarmAnswer[], o: { lastRequestMs?: number, pending?: number } = {}): LingerDeps & { asked: string[] } {
  const asked: string[] = []
  return {
    asked,
    swarm: async file => { asked.push(file); return answers[Math.min(asked.length, answers.length) - 1] as SwarmAnswer },
    lastRequestMs: () => o.lastRequestMs ?? performance.now(),
    pendingRequests: () => o.pending ?? 0
  }
}

describe('lingerWhileNeeded', () => {
  it('stays while a member still downloads, leaves once every member is a seed', async () => {
    const d = deps([STILL_DOWNLOADING, STILL_DOWNLOADING, ALL_SEEDS])
    const end = await lingerWhileNeeded(d, ['f'], { maxMs: 60_000, idleMs: 60_000, pollMs: 1 }, never)
    assert.equal(end, 'swarm-complete')
    assert.deepEqual(d.asked, ['f', 'f', 'f'])
  })

  it('leaves at once when nobody is downloading (no wait at all)', async () => {
    const d = deps([ALL_SEEDS])
    assert.equal(await lingerWhileNeeded(d, ['a', 'b'], { maxMs: 60_000, idleMs: 60_000, pollMs: 60_000 }, never), 'swarm-complete')
    assert.deepEqual(d.asked, ['a', 'b'])
  })

  it('checks every file: one still downloading is enough to stay', async () => {
    let calls = 0
    const d: LingerDeps = {
      swarm: async file => { calls++; return file === 'b' && calls < 5 ? STILL_DOWNLOADING : ALL_SEEDS },
      lastRequestMs: () => performance.now(),
      pendingRequests: () => 0
    }
    assert.equal(await lingerWhileNeeded(d, ['a', 'b'], { maxMs: 60_000, idleMs: 60_000, pollMs: 1 }, never), 'swarm-complete')
    assert.equal(calls, 6) // a, b (downloading); a, b (downloading); a, b (seeds)
  })

  it('leaves when nobody has asked for a segment for idleMs, but not while requests are pending', async () => {
    assert.equal(await lingerWhileNeeded(deps([STILL_DOWNLOADING], { lastRequestMs: Number.NEGATIVE_INFINITY }), ['f'], { maxMs: 60_000, idleMs: 0, pollMs: 60_000 }, never), 'idle')
    // Requests pending: idle never applies, so only the time limit ends it.
    assert.equal(await lingerWhileNeeded(deps([STILL_DOWNLOADING], { lastRequestMs: Number.NEGATIVE_INFINITY, pending: 1 }), ['f'], { maxMs: 20, idleMs: 0, pollMs: 1 }, never), 'time-limit')
  })

  it('never stays longer than maxMs, even when the tracker does not answer', async () => {
    assert.equal(await lingerWhileNeeded(deps([STILL_DOWNLOADING]), ['f'], { maxMs: 0, idleMs: 60_000, pollMs: 60_000 }, never), 'time-limit')
    const silent: LingerDeps = { swarm: async () => await never, lastRequestMs: () => performance.now(), pendingRequests: () => 0 }
    assert.equal(await lingerWhileNeeded(silent, ['f'], { maxMs: 20, idleMs: 60_000, pollMs: 1 }, never), 'time-limit')
  })

  it('leaves with tracker-error when the tracker does not answer within idleMs (lost, reconnecting)', async () => {
    const silent: LingerDeps = { swarm: async () => await never, lastRequestMs: () => performance.now(), pendingRequests: () => 1 }
    assert.equal(await lingerWhileNeeded(silent, ['f'], { maxMs: 60_000, idleMs: 20, pollMs: 1 }, never), 'tracker-error')
  })

  it('ends on stop, and on a tracker error', async () => {
    const stop = Promise.resolve()
    assert.equal(await lingerWhileNeeded(deps([STILL_DOWNLOADING]), ['f'], { maxMs: 60_000, idleMs: 60_000, pollMs: 60_000 }, stop), 'stopped')
    const failing: LingerDeps = { swarm: async () => { throw new Error('gone') }, lastRequestMs: () => performance.now(), pendingRequests: () => 0 }
    assert.equal(await lingerWhileNeeded(failing, ['f'], { maxMs: 60_000, idleMs: 60_000, pollMs: 60_000 }, never), 'tracker-error')
  })
})
