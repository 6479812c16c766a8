/** DFSS as a system under test: `dfss tracker`, one `dfss share` and N `dfss get --json` on loopback. */
import path from 'node:path'
import { BIN, fileSize } from './files.ts'
import { cpuSince, cpuSnapshot, failedRun, lastExitMs, peakRssByRole, waitAllOk, type SwarmSetup } from './measure.ts'
import { lastDoneMs, parseGetterEvents, swarmPhases } from './phases.ts'
import { ProcessSet } from './proc.ts'
import type { SystemRun } from './results.ts'

const TRACKER_START_MS = 15_000
/** The seed hashes the whole file before it announces itself. */
const SEED_READY_MS = 180_000

/** One transfer line of a getter's `--json` summary. */
interface SummaryTransfer { from: number, file: string, segments: number }

/** Reads the `{event:'summary', transfers}` line of a getter's `--json` output; null if absent. */
export function parseGetSummary (stdout: string): SummaryTransfer[] | null {
  const lines = stdout.split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = (lines[i] as string).trim()
    if (!l.startsWith('{') || !l.includes('"summary"')) continue
    try {
      const ev = JSON.parse(l) as { event?: string, transfers?: SummaryTransfer[] }
      if (ev.event === 'summary' && Array.isArray(ev.transfers)) return ev.transfers
    } catch { /* not JSON */ }
  }
  return null
}

/** The seed's share of all segments the getters received, from their summaries. */
export function seedShareOf (summaries: ReadonlyArray<SummaryTransfer[] | null>, seedId: number): number | null {
  let all = 0
  let seed = 0
  for (const s of summaries) {
    if (s === null) return null
    for (const t of s) { all += t.segments; if (t.from === seedId) seed += t.segments }
  }
  return all > 0 ? seed / all : null
}

/** Runs one DFSS swarm and measures it; every process is the `dfss` executable, as a user starts it. */
export async function runDfssSwarm (s: SwarmSetup): Promise<SystemRun> {
  const procs = new ProcessSet(s.work)
  const bytes = s.fileBytes * s.downloaders
  const limit = s.uploadLimit !== null ? ['--upload-limit', String(s.uploadLimit)] : []
  try {
    const tracker = procs.spawn(BIN, ['tracker', '--host', '127.0.0.1', '--port', '0'], { role: 'tracker', keepStdout: false })
    const addr = (await tracker.waitForLine(/listening on (\S+:[0-9]+)/, TRACKER_START_MS))[1] as string
    // Seed preparation, like mktorrent's: from starting the process until it has hashed the file.
    const prepStart = performance.now()
    const seed = procs.spawn(BIN, ['share', s.file, '-t', addr, '--host', '127.0.0.1', ...limit], { role: 'seed', cwd: s.work })
    await seed.waitForLine(/^hashed /, SEED_READY_MS)
    const prepS = (performance.now() - prepStart) / 1000
    const seedId = Number((await seed.waitForLine(/^sharing [0-9]+ files? as peer ([0-9]+)/, SEED_READY_MS))[1])
    const base = await cpuSnapshot([tracker, seed])
    const t0 = performance.now()
    // the getters' events carry epoch milliseconds
    const startMs = Date.now()
    const getters = Array.from({ length: s.downloaders }, (_, i) => procs.spawn(BIN,
      ['get', s.name, '-t', addr, '-o', path.join(s.work, `get${i}`), '--host', '127.0.0.1', '--json', ...limit],
      { role: 'getter', cwd: s.work }))
    await waitAllOk(getters, s.timeoutMs, [tracker, seed])
    // Timed like aria2's completion hook: until the last getter has its file (verified, synced and
    // renamed into place, its `done` event), not until it exits; the exit is kept apart.
    const events = getters.map(g => parseGetterEvents(g.stdout))
    const doneMs = lastDoneMs(events)
    if (doneMs === null) throw new Error('a getter exited 0 without printing its done event')
    const wallS = (doneMs - startMs) / 1000
    // The exits on the same (epoch) clock as the events: t0 and startMs were taken together.
    const exitS = (startMs + (lastExitMs(getters) - t0) - doneMs) / 1000
    const cpuS = await cpuSince([tracker, seed, ...getters], base)
    await procs.stopAll()
    for (let i = 0; i < s.downloaders; i++) {
      const size = await fileSize(path.join(s.work, `get${i}`, s.name))
      if (size !== s.fileBytes) throw new Error(`getter ${i} has ${size} bytes of ${s.fileBytes}`)
    }
    const seedShare = seedShareOf(getters.map(g => parseGetSummary(g.stdout)), seedId)
    const phases = swarmPhases(events, seedId, startMs)
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs), seedShare, prepS, phases, exitS }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
  }
}
