import { setTimeout as sleep } from 'node:timers/promises'
import type { SwarmAnswer } from './tracker-link.ts'

/** How long a finished getter keeps serving; see {@link lingerWhileNeeded}. */
export interface LingerOptions {
  /** Longest stay. */
  maxMs: number
  /** Leave once nobody has asked us for a segment this long. */
  idleMs: number
  /** How often the tracker is asked whether anyone still downloads. */
  pollMs: number
}

/** What a lingering peer watches. */
export interface LingerDeps {
  swarm: (file: string) => Promise<SwarmAnswer>
  /** performance.now() of the last segment request we got; -Infinity if none. */
  lastRequestMs: () => number
  /** Requests queued or being sent. */
  pendingRequests: () => number
}

/** Why the stay ended ('tracker-error': the tracker failed or did not answer within idleMs). */
export type LingerEnd = 'swarm-complete' | 'idle' | 'time-limit' | 'stopped' | 'tracker-error'

/**
 * After its downloads, a getter stays while it is useful: the peers still downloading its files can
 * take segments from it rather than queue at the seed. It leaves as soon as every member of those
 * swarms is a seed (the tracker's answer), when nobody has asked it for anything for `idleMs`, after
 * `maxMs`, or when `stop` settles.
 */
export async function lingerWhileNeeded (deps: LingerDeps, files: readonly string[], opts: LingerOptions, stop: Promise<unknown>): Promise<LingerEnd> {
  const start = performance.now()
  const left = (): number => Math.max(0, start + opts.maxMs - performance.now())
  let stopped = false
  const stopping = new AbortController()
  stop.then(() => { stopped = true; stopping.abort() }, () => { stopped = true; stopping.abort() })
  /** `p`, or null after `limitMs` or once stopped, whichever comes first. */
  const within = async <T>(p: Promise<T>, limitMs: number): Promise<T | null> => {
    if (stopping.signal.aborted) return null
    const settled = new AbortController() // ends the sleep once `p` won
    try {
      return await Promise.race([p, sleep(limitMs, null, { signal: AbortSignal.any([settled.signal, stopping.signal]) }).catch(() => null)])
    } finally {
      settled.abort()
    }
  }
  try {
    for (;;) {
      if (stopped) return 'stopped'
      let downloading = false
      try {
        for (const f of files) {
          // A tracker that takes longer than idleMs to answer (gone, or reconnecting) is no use to
          // the peers we serve either: leave rather than wait out the whole stay.
          const byTime = left() <= opts.idleMs
          const answer = await within(deps.swarm(f), byTime ? left() : opts.idleMs)
          if (answer === null) return stopped ? 'stopped' : byTime ? 'time-limit' : 'tracker-error'
          if (answer.members.some(m => !m.seed)) { downloading = true; break }
        }
      } catch {
        return 'tracker-error'
      }
      if (!downloading) return 'swarm-complete'
      const now = performance.now()
      if (left() === 0) return 'time-limit'
      if (deps.pendingRequests() === 0 && now - Math.max(start, deps.lastRequestMs()) >= opts.idleMs) return 'idle'
      if (await within(sleep(Math.min(opts.pollMs, left()), true), left()) === null) return stopped ? 'stopped' : 'time-limit'
    }
  } finally {
    stopping.abort()
  }
}
