/**
 * Where a DFSS swarm's time goes, from the getters' `--json` events. PURE.
 *
 * A capped swarm cannot finish before the seed has sent every segment once (T_min = F/u_seed when the
 * seed's cap binds), so its wall time splits into three phases: start-up, until the seed's first
 * segment reached a getter; the seed's pass, until every segment had reached some getter from the
 * seed; the tail, until the last getter was done; then the processes' exit. `segment` and `done`
 * events fire once the data is on disk.
 */
import { median } from './stats.ts'

/** One getter event as `dfss get --json` prints it (only the fields used here). */
export interface GetterEvent { t: number, event: string, from?: number, index?: number, total?: number }

/** The phases of one run, in seconds. */
export interface SwarmPhases {
  /** From starting the getters until the seed's first segment arrived. */
  startupS: number
  /** From then until every segment had arrived once from the seed. */
  passS: number
  /** From then until the last getter was done. */
  tailS: number
  /** Time from a segment's first arrival from the seed until every getter had it: median, 90th percentile, longest. */
  spreadMedianS: number
  spreadP90S: number
  spreadMaxS: number
}

/** The `segment` and `done` events in a getter's stdout (other lines are skipped). */
export function parseGetterEvents (stdout: string): GetterEvent[] {
  const out: GetterEvent[] = []
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{') || !(line.includes('"segment"') || line.includes('"done"'))) continue
    try {
      const e = JSON.parse(line) as Partial<GetterEvent>
      if (typeof e.t !== 'number' || (e.event !== 'segment' && e.event !== 'done')) continue
      out.push({ t: e.t, event: e.event, ...(typeof e.from === 'number' ? { from: e.from } : {}), ...(typeof e.index === 'number' ? { index: e.index } : {}), ...(typeof e.total === 'number' ? { total: e.total } : {}) })
    } catch { /* not JSON */ }
  }
  return out
}

/**
 * When the last getter was done (epoch ms): each getter's last `done` event, which it prints once the
 * file is verified, synced and renamed into place. Null when some getter printed none.
 */
export function lastDoneMs (getters: ReadonlyArray<readonly GetterEvent[]>): number | null {
  let last = Number.NEGATIVE_INFINITY
  for (const events of getters) {
    let done = Number.NEGATIVE_INFINITY
    for (const e of events) if (e.event === 'done') done = Math.max(done, e.t)
    if (done === Number.NEGATIVE_INFINITY) return null
    last = Math.max(last, done)
  }
  return getters.length > 0 ? last : null
}

/**
 * The phases of one run: `getters` holds each getter's events, `seedId` is the seed's peer id and
 * `startMs` the epoch milliseconds at which the getters were started. Null when a getter never
 * finished, or some segment never came from the seed (a getter that resumed, or events lost): the
 * seed's pass would then end too early.
 */
export function swarmPhases (getters: ReadonlyArray<readonly GetterEvent[]>, seedId: number, startMs: number): SwarmPhases | null {
  const lastDone = lastDoneMs(getters)
  if (lastDone === null) return null
  const fromSeed = new Map<number, number>()
  const lastCopy = new Map<number, number>()
  let total = 0
  for (const events of getters) {
    for (const e of events) {
      if (e.index === undefined) continue
      total = Math.max(total, e.total ?? 0)
      if (e.from === seedId && e.t < (fromSeed.get(e.index) ?? Infinity)) fromSeed.set(e.index, e.t)
      lastCopy.set(e.index, Math.max(lastCopy.get(e.index) ?? e.t, e.t))
    }
  }
  if (fromSeed.size === 0 || fromSeed.size < total) return null
  let first = Infinity
  let passEnd = Number.NEGATIVE_INFINITY
  const spread: number[] = []
  for (const [index, t] of fromSeed) {
    first = Math.min(first, t)
    passEnd = Math.max(passEnd, t)
    spread.push((lastCopy.get(index) as number) - t)
  }
  spread.sort((a, b) => a - b)
  return {
    startupS: (first - startMs) / 1000,
    passS: (passEnd - first) / 1000,
    tailS: (lastDone - passEnd) / 1000,
    spreadMedianS: median(spread) / 1000,
    spreadP90S: (spread[Math.min(spread.length - 1, Math.floor(0.9 * spread.length))] as number) / 1000,
    spreadMaxS: (spread[spread.length - 1] as number) / 1000
  }
}
