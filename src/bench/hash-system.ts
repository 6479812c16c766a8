/** Hash bounds: as many parallel SHA-256 passes over the file as there are downloaders. */
import { failedRun, type SwarmSetup } from './measure.ts'
import { runParallelBound } from './parallel-bound.ts'
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
  const sha256sum = s.tools.sha256sum
  if (tool === 'sha256sum' && sha256sum === null) return failedRun('sha256sum not found', s.fileBytes * s.downloaders)
  return await runParallelBound(s, procs => sha256sum !== null && tool === 'sha256sum'
    ? procs.spawn(sha256sum, [s.file], { role: 'hasher', keepStdout: false })
    : procs.spawn(process.execPath, ['-e', NODE_HASH_SCRIPT, s.file], { role: 'hasher', keepStdout: false }))
}
