/**
 * Disk bound: as many parallel copies of the file as there are downloaders, each written with
 * O_DIRECT in 1 MiB blocks and fsynced (`dd oflag=direct conv=fsync`): the least time in which a
 * transfer that stores its copies durably, as DFSS does, can be done on this disk.
 */
import path from 'node:path'
import { failedRun, type SwarmSetup } from './measure.ts'
import { runParallelBound } from './parallel-bound.ts'
import type { SystemRun } from './results.ts'

/** Runs N parallel durable copies of the file into the run's work dir and measures them. */
export async function runDiskBound (s: SwarmSetup): Promise<SystemRun> {
  const dd = s.tools.dd
  if (dd === null) return failedRun('dd not found', s.fileBytes * s.downloaders)
  return await runParallelBound(s, (procs, i) => procs.spawn(dd,
    [`if=${s.file}`, `of=${path.join(s.work, `copy${i}`)}`, 'bs=1M', 'oflag=direct', 'conv=fsync', 'status=none'],
    { role: 'writer', keepStdout: false }))
}
