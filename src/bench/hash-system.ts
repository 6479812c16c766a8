/** Hash bounds: as many parallel SHA-256 passes over the file as there are downloaders. */
import { cpuSince, failedRun, lastExitMs, peakRssByRole, waitAllOk, type SwarmSetup } from './measure.ts'
import { ProcessSet } from './proc.ts'
import type { SystemRun } from './results.ts'

/** SHA-256 of every 1 MiB piece with node:crypto (what a DFSS getter verifies), run with `node -e SCRIPT FILE`. */
const NODE_HASH_SCRIPT = `
const { createHash } = require('node:crypto'), fs = require('node:fs')
fs.createReadStream(process.argv[1], { highWaterMark: 1 << 20 })
  .on('data', b => { createHash('sha256').update(b).digest() })
  .on('end', () => process.exit(0))
`

/** Which hasher: coreutils `sha256sum` (the bound) or node:crypto on 1 MiB pieces. */
export type HashTool = 'sha256sum' | 'node'

/** Runs N parallel hash passes over the file and measures them. */
export async function runHashBound (s: SwarmSetup, tool: HashTool): Promise<SystemRun> {
  const procs = new ProcessSet(s.work)
  const bytes = s.fileBytes * s.downloaders
  if (tool === 'sha256sum' && s.tools.sha256sum === null) return failedRun('sha256sum not found', bytes)
  try {
    const t0 = performance.now()
    const hashers = Array.from({ length: s.downloaders }, () => tool === 'sha256sum'
      ? procs.spawn(s.tools.sha256sum as string, [s.file], { role: 'hasher', keepStdout: false })
      : procs.spawn(process.execPath, ['-e', NODE_HASH_SCRIPT, s.file], { role: 'hasher', keepStdout: false }))
    await waitAllOk(hashers, s.timeoutMs)
    const wallS = (lastExitMs(hashers) - t0) / 1000
    const cpuS = await cpuSince(hashers, new Map())
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs) }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
  }
}
