import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type * as Readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { checkScenario, InputError, parseClassicInput, type ClassicInput } from '../classic/input.ts'
import { writeFileAtomic } from '../util/atomic-write.ts'
import { lazyRequire } from '../util/lazy-require.ts'
import { childEnv } from './child-env.ts'
import { rendezvousFile } from './rendezvous.ts'
import type { RunStats } from './stats.ts'

// `node:readline` only when a swarm runs: every other command of the CLI bundle would load it at start (about 4 ms of CPU).
const readline = lazyRequire<typeof Readline>('node:readline')

/** Path of the CLI entry that every rank runs. */
export const BIN_PATH = fileURLToPath(new URL('../../../bin/dfss.js', import.meta.url))

/**
 * The shell that starts the ranks: `sh -c LAUNCHER dfss-run N CMD...` runs CMD once per rank with
 * DFSS_RANK set (rank 0 also gets --stats-out $DFSS_RUN_STATS) and reports "RANK STATUS" on fd 3 as
 * each exits. A Node parent blocks in spawn() until each child has exec'd (about 16 ms a child on a
 * busy 2-core machine, half a second for 33 ranks); a shell does not. The shell leads its own process
 * group; a watcher reading the parent's pipe on stdin kills that group if the parent dies, whatever
 * killed it, so no rank outlives `dfss run`.
 */
const LAUNCHER = [
  'n=$1; shift',
  'exec 4<&0',
  '( read _ <&4; kill -KILL 0 ) &',
  'watch=$!',
  'pids=',
  'r=0',
  'while [ "$r" -lt "$n" ]; do',
  '  if [ "$r" -eq 0 ]; then',
  '    ( DFSS_RANK=0 "$@" --stats-out "$DFSS_RUN_STATS" 3>&- 4<&-; echo "0 $?" >&3 ) 4<&- &',
  '  else',
  '    ( DFSS_RANK=$r "$@" 3>&- 4<&-; echo "$r $?" >&3 ) 4<&- &',
  '  fi',
  '  pids="$pids $!"',
  '  r=$((r + 1))',
  'done',
  'wait $pids',
  'kill $watch 2>/dev/null',
  'exit 0'
].join('\n')

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

/** Outcome of a local classic run; `signal` when SIGINT, SIGTERM or SIGHUP stopped it. */
export interface RunSwarmResult { ok: boolean, stats: RunStats | null, problems: string[], signal?: NodeJS.Signals }

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
  const problems: string[] = []
  let launcher: ChildProcess | null = null
  let stoppedBy: NodeJS.Signals | undefined
  // The ranks are in a group of their own: pass a stop on to them; a second one kills them at once.
  const forward = (sig: NodeJS.Signals): void => { killGroup(launcher, stoppedBy === undefined ? sig : 'SIGKILL'); stoppedBy ??= sig }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const sig of signals) process.on(sig, forward)
  try {
    const rankArgs = [process.execPath, ...process.execArgv, BIN_PATH, 'rank', '--dir', o.dir, '--rendezvous', rendezvousFile(tmp, null)]
    const sh = spawn('/bin/sh', ['-c', LAUNCHER, 'dfss-run', String(o.ranks), ...rankArgs], {
      stdio: ['pipe', 'inherit', 'pipe', 'pipe'], // stdin: the watcher's lifeline, never written
      detached: true, // its own process group, so a timeout or a signal reaches every rank at once
      env: { ...childEnv(process.env), DFSS_SIZE: String(o.ranks), DFSS_JOB: '', DFSS_STARTED_AT: String(started), DFSS_RUN_STATS: statsTmp, ...(o.secret != null ? { DFSS_SECRET: o.secret } : {}) }
    })
    launcher = sh
    const { createInterface } = readline()
    createInterface({ input: sh.stderr as NodeJS.ReadableStream }).on('line', line => { o.log(line) })
    const status = new Map<number, number>()
    createInterface({ input: sh.stdio[3] as NodeJS.ReadableStream }).on('line', line => {
      const m = /^([0-9]+) ([0-9]+)$/.exec(line)
      if (m !== null) status.set(Number(m[1]), Number(m[2]))
    })
    const finished = new Promise<void>(resolve => {
      sh.once('error', err => { problems.push(`cannot start /bin/sh to launch the ranks: ${err.message}`); resolve() })
      sh.once('close', () => { resolve() })
    })
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), o.timeoutMs ?? 60_000) })
    ])
    clearTimeout(timer)
    if (timedOut) {
      const running = Array.from({ length: o.ranks }, (_, r) => r).filter(r => !status.has(r))
      killGroup(sh, 'SIGKILL')
      await finished
      problems.length = 0
      problems.push(`timed out after ${o.timeoutMs ?? 60_000} ms; ranks still running: ${running.join(', ')}`)
    } else if (problems.length === 0) {
      for (let r = 0; r < o.ranks; r++) {
        const code = status.get(r)
        if (code === undefined) problems.push(`rank ${r}: no exit status`)
        else if (code > 128 && signalName(code - 128) !== null) problems.push(`rank ${r} was killed by ${signalName(code - 128) as string}`)
        else if (code !== 0) problems.push(`rank ${r} exited with code ${code}`)
      }
    }
    let stats: RunStats | null = null
    try {
      stats = JSON.parse(await readFile(statsTmp, 'utf8')) as RunStats
      stats.elapsedMs = Date.now() - started
      if (o.statsFile != null) await writeFileAtomic(o.statsFile, JSON.stringify(stats, null, 2) + '\n')
    } catch {}
    if (stoppedBy !== undefined) return { ok: false, stats, problems: [`stopped by ${stoppedBy}`, ...problems], signal: stoppedBy }
    return { ok: problems.length === 0, stats, problems }
  } finally {
    for (const sig of signals) process.off(sig, forward)
    if (launcher !== null && launcher.exitCode === null && launcher.signalCode === null) killGroup(launcher, 'SIGKILL')
    await rm(tmp, { recursive: true, force: true })
  }
}

/** Sends `sig` to the launcher's process group (the shell and every rank); no-op once it is gone. */
function killGroup (launcher: ChildProcess | null, sig: NodeJS.Signals): void {
  if (launcher?.pid === undefined) return
  try { process.kill(-launcher.pid, sig) } catch {}
}

/** The name of signal number `n`, or null. */
function signalName (n: number): string | null {
  for (const [name, num] of Object.entries(os.constants.signals)) if (num === n) return name
  return null
}
