import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { checkScenario, InputError, parseClassicInput, type ClassicInput } from '../classic/input.ts'
import { writeFileAtomic } from '../util/atomic-write.ts'
import { childEnv } from './child-env.ts'
import { rendezvousFile } from './rendezvous.ts'
import type { RunStats } from './stats.ts'

/** Path of the CLI entry that every rank runs. */
export const BIN_PATH = fileURLToPath(new URL('../../../bin/dfss.js', import.meta.url))

/** Options of {@link runSwarm}. */
export interface RunSwarmOptions {
  ranks: number
  dir: string
  /** Kill everything and fail after this long. Default 60 000 ms. */
  timeoutMs?: number
  /** Write the stats JSON here. Default: none. */
  statsFile?: string | null
  secret?: string | null
  /** Where rank messages go. */
  log: (line: string) => void
}

/** Outcome of a local classic run. */
export interface RunSwarmResult { ok: boolean, stats: RunStats | null, problems: string[] }

/** Reads and checks every inR.txt before anything starts; throws InputError with file and line. */
export async function validateScenario (dir: string, ranks: number): Promise<ClassicInput[]> {
  const inputs: ClassicInput[] = []
  const files: string[] = []
  for (let r = 1; r < ranks; r++) {
    const file = path.join(dir, `in${r}.txt`)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new InputError(file, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    inputs.push(parseClassicInput(text, file))
    files.push(file)
  }
  checkScenario(inputs, files)
  return inputs
}

/**
 * `dfss run -n N DIR`: starts rank 0 (tracker) and ranks 1..N-1 (peers) as N processes on loopback,
 * like `mpirun -np N`. Exit is ok only when every rank exited 0; a timeout kills every rank.
 */
export async function runSwarm (o: RunSwarmOptions): Promise<RunSwarmResult> {
  if (!Number.isInteger(o.ranks) || o.ranks < 2) throw new RangeError('-n must be an integer of at least 2 (rank 0 is the tracker)')
  await validateScenario(o.dir, o.ranks)
  const started = Date.now()
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'dfss-run-'))
  const statsTmp = path.join(tmp, 'stats.json')
  const children: ChildProcess[] = []
  const problems: string[] = []
  try {
    const exits: Array<Promise<number | null>> = []
    for (let r = 0; r < o.ranks; r++) {
      const args = [BIN_PATH, 'rank', '--dir', o.dir, '--rendezvous', rendezvousFile(tmp, null)]
      if (r === 0) args.push('--stats-out', statsTmp)
      const child = spawn(process.execPath, [...process.execArgv, ...args], {
        stdio: ['ignore', 'inherit', 'pipe'],
        env: { ...childEnv(process.env), DFSS_RANK: String(r), DFSS_SIZE: String(o.ranks), DFSS_JOB: '', DFSS_STARTED_AT: String(started), ...(o.secret != null ? { DFSS_SECRET: o.secret } : {}) }
      })
      children.push(child)
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', line => { o.log(line) })
      exits.push(new Promise(resolve => {
        child.once('error', err => { problems.push(`rank ${r}: cannot start: ${err.message}`); resolve(-1) })
        child.once('exit', (code, signal) => {
          if (code !== 0) problems.push(`rank ${r} ${signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`}`)
          resolve(code)
        })
      }))
    }
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      Promise.all(exits).then(() => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), o.timeoutMs ?? 60_000) })
    ])
    clearTimeout(timer)
    if (timedOut) {
      const running = children.map((c, r) => (c.exitCode === null && c.signalCode === null ? r : -1)).filter(r => r >= 0)
      for (const c of children) c.kill('SIGKILL')
      await Promise.all(exits)
      problems.length = 0
      problems.push(`timed out after ${o.timeoutMs ?? 60_000} ms; ranks still running: ${running.join(', ')}`)
    }
    let stats: RunStats | null = null
    try {
      stats = JSON.parse(await readFile(statsTmp, 'utf8')) as RunStats
      stats.elapsedMs = Date.now() - started
      if (o.statsFile != null) await writeFileAtomic(o.statsFile, JSON.stringify(stats, null, 2) + '\n')
    } catch {}
    return { ok: problems.length === 0, stats, problems }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await rm(tmp, { recursive: true, force: true })
  }
}
