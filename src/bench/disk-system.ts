/**
 * Disk bound: as many parallel copies of the file as there are downloaders, each written with
 * O_DIRECT in 1 MiB blocks and fsynced (`dd oflag=direct conv=fsync`): the least time in which a
 * transfer that stores its copies durably, as DFSS does, can be done on this disk.
 */
import path from 'node:path'
import { cpuSince, failedRun, lastExitMs, peakRssByRole, waitAllOk, type SwarmSetup } from './measure.ts'
import { ProcessSet } from './proc.ts'
import type { SystemRun } from './results.ts'

/** Runs N parallel durable copies of the file into the run's work dir and measures them. */
export async function runDiskBound (s: SwarmSetup): Promise<SystemRun> {
  const procs = new ProcessSet(s.work)
  const bytes = s.fileBytes * s.downloaders
  if (s.tools.dd === null) return failedRun('dd not found', bytes)
  const dd = s.tools.dd
  try {
    const t0 = performance.now()
    const writers = Array.from({ length: s.downloaders }, (_, i) => procs.spawn(dd,
      [`if=${s.file}`, `of=${path.join(s.work, `copy${i}`)}`, 'bs=1M', 'oflag=direct', 'conv=fsync', 'status=none'],
      { role: 'writer', keepStdout: false }))
    await waitAllOk(writers, s.timeoutMs)
    const wallS = (lastExitMs(writers) - t0) / 1000
    const cpuS = await cpuSince(writers, new Map())
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs) }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
  }
}
