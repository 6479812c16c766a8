/** Turns the processes of one system's run into a {@link SystemRun}: CPU during the transfer, peak RSS by role. */
import type { BenchProcess } from './proc.ts'
import type { SystemRun } from './results.ts'
import type { Toolset } from './tools.ts'

/** What every system runner gets: one seed, `downloaders` getters of one file, on loopback. */
export interface SwarmSetup {
  /** Absolute path of the file the seed has. */
  file: string
  /** Its base name. */
  name: string
  fileBytes: number
  downloaders: number
  /** Upload cap of every process in bytes/s; null: none. */
  uploadLimit: number | null
  /** Give up (and kill everything) after this long. */
  timeoutMs: number
  /** A fresh directory for this run (outputs, helper files); removed by the caller. */
  work: string
  tools: Toolset
  log: (s: string) => void
}

/** CPU seconds of each process now: taken before the transfer starts, subtracted at the end. */
export async function cpuSnapshot (procs: readonly BenchProcess[]): Promise<Map<BenchProcess, number>> {
  const m = new Map<BenchProcess, number>()
  await Promise.all(procs.map(async p => { const c = await p.cpuSeconds(); if (c !== null) m.set(p, c) }))
  return m
}

/**
 * Sum of CPU seconds of `procs` since `baseline` (processes absent from it count from zero).
 * Null when any process could not be measured.
 */
export async function cpuSince (procs: readonly BenchProcess[], baseline: Map<BenchProcess, number>): Promise<number | null> {
  const each = await Promise.all(procs.map(async p => { const c = await p.cpuSeconds(); return c === null ? null : c - (baseline.get(p) ?? 0) }))
  return each.some(c => c === null) ? null : (each as number[]).reduce((a, b) => a + b, 0)
}

/** Highest peak RSS (KiB) per role; call after the processes have exited for /usr/bin/time's exact figure. */
export async function peakRssByRole (procs: readonly BenchProcess[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const p of procs) {
    const kib = await p.peakRssKiB()
    if (kib !== null) out[p.role] = Math.max(out[p.role] ?? 0, kib)
  }
  return out
}

/**
 * A failed run. `procs`: the run's processes; those that had already exited on their own with an error
 * are named in the message (e.g. the tracker died first and the getters only timed out after it).
 */
export function failedRun (error: unknown, bytes: number, procs: readonly BenchProcess[] = []): SystemRun {
  const deaths = procs
    .filter(p => p.exitInfo !== null && (p.exitInfo.code !== 0 || p.exitInfo.signal !== null))
    .map(p => `${p.role} exited with ${p.exitInfo?.signal ?? p.exitInfo?.code ?? '?'} after ${(((p.exitInfo?.atMs ?? 0) - p.startedAtMs) / 1000).toFixed(1)} s${p.stderr.trim() === '' ? '' : `: ${p.stderr.trim().split('\n').slice(-2).join(' / ').slice(0, 300)}`}`)
  const msg = error instanceof Error ? error.message : String(error)
  return { ok: false, error: deaths.length === 0 ? msg : `${msg} [${[...new Set(deaths)].slice(0, 4).join('; ')}]`, wallS: null, cpuS: null, bytes, peakRssKiB: {} }
}

/**
 * Resolves when every process of `procs` has exited 0; rejects at the deadline, when one exits with
 * another code, or when one of `mustStay` (tracker, seed) exits before them.
 */
export async function waitAllOk (procs: readonly BenchProcess[], timeoutMs: number, mustStay: readonly BenchProcess[] = []): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out after ${timeoutMs / 1000} s`)) }, timeoutMs) })
  const early = mustStay.map(async p => { await p.exited; throw new Error(`${p.role} exited during the transfer`) })
  try {
    await Promise.race([deadline, ...early, Promise.all(procs.map(async p => {
      const e = await p.exited
      if (e.code !== 0) throw new Error(`${p.role} exited with ${e.signal ?? e.code ?? '?'}: ${p.stderr.trim().split('\n').slice(-3).join(' / ')}`)
    }))])
  } finally {
    clearTimeout(timer)
    for (const e of early) e.catch(() => {})
  }
}

/** Latest exit time (performance.now() ms) of finished processes. */
export function lastExitMs (procs: readonly BenchProcess[]): number {
  return Math.max(...procs.map(p => p.exitInfo?.atMs ?? Number.NaN))
}
