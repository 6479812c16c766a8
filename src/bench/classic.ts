/**
 * Classic scenario: the public tests and a flash crowd through `dfss run -n N` (and mpirun when
 * present), each beside its start-up floor: N bare `node -e 0` started at once.
 */
import { chmod, cp, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { writeFlashCrowd } from '../classic/generate.ts'
import { BIN, FIXTURES, makeTempDir, removeTempDir } from './files.ts'
import { ProcessSet, type BenchProcess } from './proc.ts'
import type { ClassicCase } from './results.ts'
import type { Toolset } from './tools.ts'

/** The public tests, in order (ranks 4, 6, 5, 7). */
export const PUBLIC_TESTS = ['test1', 'test2', 'test3', 'test4']
/** Downloaders of the flash crowd: with the tracker and the seed, 33 ranks. */
const CROWD_DOWNLOADERS = 31
const CROWD_SEGMENTS = 100
/** `dfss run --timeout` and our own deadline around any one classic run. */
const RUN_TIMEOUT_S = 60
const MPI_ENV = { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' }

/** Context of the classic scenario. */
export interface ClassicContext { runs: number, tools: Toolset, log: (s: string) => void }

/** Starts every process, waits for all (bounded); returns the wall time in seconds to the last exit, or throws. */
async function timeAll (start: () => BenchProcess[], procs: ProcessSet, what: string): Promise<number> {
  const t0 = performance.now()
  const list = start()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what}: timed out after ${RUN_TIMEOUT_S + 10} s`)) }, (RUN_TIMEOUT_S + 10) * 1000) })
  try {
    const exits = await Promise.race([Promise.all(list.map(async p => await p.exited)), deadline])
    const bad = exits.findIndex(e => e.code !== 0)
    if (bad >= 0) throw new Error(`${what}: exit ${exits[bad]?.signal ?? exits[bad]?.code ?? '?'}: ${(list[bad] as BenchProcess).stderr.trim().split('\n').slice(-3).join(' / ')}`)
    return (Math.max(...exits.map(e => e.atMs)) - t0) / 1000
  } finally {
    clearTimeout(timer)
    await procs.stopAll()
  }
}

async function attempt (errors: string[], fn: () => Promise<number>): Promise<number | null> {
  try { return await fn() } catch (err) { errors.push((err as Error).message); return null }
}

async function ranksIn (dir: string): Promise<number> {
  return (await readdir(dir)).filter(f => /^in[0-9]+\.txt$/.test(f)).length + 1
}

/** Runs one classic case `runs` times: dfss run, floor, and under mpirun with its floor. */
async function runCase (ctx: ClassicContext, name: string, source: string, ranks: number): Promise<ClassicCase> {
  const c: ClassicCase = { name, ranks, dfss: [], floor: [], floorNoCa: [], mpirun: ctx.tools.mpirun !== null ? [] : null, mpirunFloor: ctx.tools.mpirun !== null ? [] : null, errors: [] }
  const mpirun = ctx.tools.mpirun
  for (let r = 0; r < ctx.runs; r++) {
    const dir = await makeTempDir(`classic-${name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 20)}`)
    const procs = new ProcessSet(dir)
    try {
      await cp(source, path.join(dir, 'run'), { recursive: true })
      c.dfss.push(await attempt(c.errors, async () => await timeAll(() => [procs.spawn(BIN, ['run', '-n', String(ranks), path.join(dir, 'run'), '-q', '--timeout', String(RUN_TIMEOUT_S)], { role: 'dfss-run', measure: false })], procs, `${name} dfss run`)))
      c.floor.push(await attempt(c.errors, async () => await timeAll(() => Array.from({ length: ranks }, () => procs.spawn(process.execPath, ['-e', '0'], { role: 'node', measure: false })), procs, `${name} floor`)))
      c.floorNoCa.push(await attempt(c.errors, async () => await timeAll(() => Array.from({ length: ranks }, () => procs.spawn(process.execPath, ['-e', '0'], { role: 'node', measure: false, env: { NODE_EXTRA_CA_CERTS: undefined } })), procs, `${name} floor without NODE_EXTRA_CA_CERTS`)))
      if (mpirun !== null) {
        const mdir = path.join(dir, 'mpi')
        await cp(source, mdir, { recursive: true })
        const wrapper = path.join(dir, 'dfss-wrapper.sh')
        // The executable itself, as a user runs `mpirun -np N dfss mpi` (its #! line drops NODE_EXTRA_CA_CERTS).
        await writeFile(wrapper, `#!/bin/sh\nexec "${BIN}" mpi "$@"\n`)
        await chmod(wrapper, 0o755)
        const mpi = (cmd: string[]): BenchProcess[] => [procs.spawn(mpirun, ['--oversubscribe', '-np', String(ranks), ...cmd], { role: 'mpirun', cwd: mdir, env: MPI_ENV, measure: false })]
        c.mpirun?.push(await attempt(c.errors, async () => await timeAll(() => mpi([wrapper]), procs, `${name} mpirun`)))
        c.mpirunFloor?.push(await attempt(c.errors, async () => await timeAll(() => mpi([process.execPath, '-e', '0']), procs, `${name} mpirun floor`)))
      }
      ctx.log(`bench: classic ${name} run ${r + 1}/${ctx.runs}: dfss ${fmt(c.dfss.at(-1))} s, floor ${fmt(c.floor.at(-1))} s${mpirun !== null ? `, mpirun ${fmt(c.mpirun?.at(-1))} s, mpirun floor ${fmt(c.mpirunFloor?.at(-1))} s` : ''}`)
    } finally {
      await procs.stopAll()
      await removeTempDir(dir)
    }
  }
  return c
}

function fmt (v: number | null | undefined): string { return typeof v === 'number' ? v.toFixed(2) : 'failed' }

/** The whole classic scenario. */
export async function runClassicScenario (ctx: ClassicContext): Promise<ClassicCase[]> {
  const out: ClassicCase[] = []
  for (const t of PUBLIC_TESTS) {
    const src = path.join(FIXTURES, t)
    out.push(await runCase(ctx, t, src, await ranksIn(src)))
  }
  const crowdDir = await makeTempDir('crowd-src')
  try {
    const ranks = await writeFlashCrowd(crowdDir, CROWD_DOWNLOADERS, CROWD_SEGMENTS)
    out.push(await runCase(ctx, `flash crowd (1 seed, ${CROWD_DOWNLOADERS} peers, ${CROWD_SEGMENTS} segments)`, crowdDir, ranks))
  } finally {
    await removeTempDir(crowdDir)
  }
  return out
}
