/** Bounds measured as N copies of one command started at once (hash passes, disk copies), timed to the last exit. */
import { cpuSince, failedRun, lastExitMs, peakRssByRole, waitAllOk, type SwarmSetup } from './measure.ts'
import { ProcessSet, type BenchProcess } from './proc.ts'
import type { SystemRun } from './results.ts'

/** Starts `start(procs, i)` for every downloader i at once and measures them until the last has exited 0. */
export async function runParallelBound (s: SwarmSetup, start: (procs: ProcessSet, i: number) => BenchProcess): Promise<SystemRun> {
  const procs = new ProcessSet(s.work)
  const bytes = s.fileBytes * s.downloaders
  try {
    const t0 = performance.now()
    const all = Array.from({ length: s.downloaders }, (_, i) => start(procs, i))
    await waitAllOk(all, s.timeoutMs)
    const wallS = (lastExitMs(all) - t0) / 1000
    const cpuS = await cpuSince(all, new Map())
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs) }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
  }
}
