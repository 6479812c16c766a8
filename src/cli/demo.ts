import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runSwarm } from '../launch/run.ts'
import { formatSummary } from '../launch/stats.ts'
import { runRealDemo } from './demo-real.ts'

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url))

/** `dfss demo`: the bundled classic scenario (6 ranks) as a real multi-process swarm, checked against the expected outputs. */
export async function runDemo (o: { keep: boolean, out: (s: string) => void, err: (s: string) => void }): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-demo-'))
  try {
    await cp(path.join(EXAMPLES, 'classic'), dir, { recursive: true })
    const ranks = (await readdir(dir)).filter(f => /^in[0-9]+\.txt$/.test(f)).length + 1
    o.out(`== Classic swarm: ${ranks} ranks (rank 0 tracker, ranks 1..${ranks - 1} peers), examples/classic\n`)
    const res = await runSwarm({ ranks, dir, timeoutMs: 60_000, log: o.err })
    if (!res.ok || res.stats === null) {
      for (const p of res.problems) o.err(`dfss demo: ${p}`)
      return 1
    }
    o.out(`${ranks} ranks finished in ${res.stats.elapsedMs} ms; who sent what to whom:\n${formatSummary(res.stats)}\n`)
    let checked = 0
    for (const f of (await readdir(dir)).filter(f => f.startsWith('client')).sort()) {
      const k = f.split('_file')[1]
      const got = (await readFile(path.join(dir, f), 'utf8')).trim()
      const expected = (await readFile(path.join(dir, `out${k ?? ''}.txt`), 'utf8')).trim()
      if (got !== expected) { o.err(`dfss demo: ${f} does not match out${k ?? ''}.txt`); return 1 }
      checked++
    }
    o.out(`all ${checked} output files match the expected ones\n\n`)
    const ok = await runRealDemo(path.join(dir, 'real'), process.stdout.isTTY ? 'tty' : 'plain', o.out)
    if (o.keep) o.out(`(kept in ${dir})\n`)
    return ok ? 0 : 1
  } finally {
    if (!o.keep) await rm(dir, { recursive: true, force: true })
  }
}
