/** Raw speed, swarm efficiency and scale: one seed and N downloaders of one random file, several systems per run. */
import path from 'node:path'
import { runAria2Swarm } from './aria2-system.ts'
import { runDfssSwarm } from './dfss-system.ts'
import { runDiskBound } from './disk-system.ts'
import { MiB, makeTempDir, removeTempDir, writeRandomFile } from './files.ts'
import { fluidLowerBoundSeconds } from './fluid.ts'
import { runHashBound } from './hash-system.ts'
import { runHttpSwarm } from './http-system.ts'
import type { SwarmSetup } from './measure.ts'
import type { SwarmCase, SystemRun } from './results.ts'
import { runQuiet, type Toolset } from './tools.ts'

/** Systems a swarm case can compare. */
export const SYSTEMS = {
  dfss: 'DFSS',
  aria2: 'aria2',
  http: 'HTTP (one server)',
  sha256sum: 'hash bound: sha256sum',
  node: 'hash bound: node:crypto',
  disk: 'disk bound: dd oflag=direct conv=fsync'
} as const
export type SystemKey = keyof typeof SYSTEMS

/** Context shared by the swarm scenarios. */
export interface SwarmContext { runs: number, tools: Toolset, log: (s: string) => void }

/** One case to run. */
export interface SwarmCaseSpec {
  name: string
  fileBytes: number
  downloaders: number
  uploadLimit: number | null
  systems: SystemKey[]
}

/** Slowest plausible transfer rate (bytes/s) when sizing deadlines, plus a fixed start-up allowance. */
const DEADLINE_RATE = 10 * MiB
const DEADLINE_BASE_MS = 60_000

async function runSystem (key: SystemKey, s: SwarmSetup): Promise<SystemRun> {
  switch (key) {
    case 'dfss': return await runDfssSwarm(s)
    case 'aria2': return await runAria2Swarm(s)
    case 'http': return await runHttpSwarm(s)
    case 'sha256sum': return await runHashBound(s, 'sha256sum')
    case 'node': return await runHashBound(s, 'node')
    case 'disk': return await runDiskBound(s)
    default: { const never: never = key; throw new Error(`unknown system ${String(never)}`) }
  }
}

/** Longest wait for the disk to take what is dirty before a run. */
const SETTLE_TIMEOUT_MS = 120_000

/**
 * Writes back everything dirty in the page cache (`sync` of all file systems) before a timed run, so
 * that no system pays for the write-back of data left by an earlier one (curl's copies, the random
 * file just made). Without it, the first DFSS run of a raw bench, started while the new 1 GiB file
 * was still being written back, took 5.97 s against 4.38-4.59 s for the next two (2026-12-07). Files
 * stay in the page cache; only their dirty state goes.
 */
async function settleDisk (tools: Toolset): Promise<void> {
  if (tools.sync !== null) await runQuiet(tools.sync, [], SETTLE_TIMEOUT_MS)
}

/** The fluid bound of a capped case, null without a cap. */
export function boundOf (spec: SwarmCaseSpec): number | null {
  return spec.uploadLimit === null ? null : fluidLowerBoundSeconds({ fileBytes: spec.fileBytes, seedUploadBytesPerSec: spec.uploadLimit, peerUploadBytesPerSec: spec.uploadLimit, peers: spec.downloaders })
}

function describeRun (r: SystemRun): string {
  if (!r.ok) return `FAILED (${r.error ?? '?'})`
  const parts = [`${(r.wallS as number).toFixed(2)} s`]
  if (r.seedShare !== undefined && r.seedShare !== null) parts.push(`seed share ${(r.seedShare * 100).toFixed(1)}%`)
  if (r.phases != null) parts.push(`start-up ${r.phases.startupS.toFixed(2)} s, seed's pass ${r.phases.passS.toFixed(2)} s, tail ${r.phases.tailS.toFixed(2)} s`)
  if (r.exitS != null) parts.push(`then exit ${r.exitS.toFixed(2)} s`)
  return parts.join(', ')
}

/**
 * Runs `spec` `runs` times over the file at `file`; within a run every system goes once, one after the
 * other, so ratios compare measurements taken close together.
 */
export async function runSwarmCase (ctx: SwarmContext, spec: SwarmCaseSpec, file: string): Promise<SwarmCase> {
  const fluid = boundOf(spec)
  const rate = spec.uploadLimit ?? Number.POSITIVE_INFINITY
  const timeoutMs = DEADLINE_BASE_MS + Math.ceil(1000 * Math.max((spec.downloaders * spec.fileBytes) / DEADLINE_RATE, 6 * (fluid ?? 0), spec.fileBytes / Math.min(rate, DEADLINE_RATE)))
  const c: SwarmCase = { name: spec.name, fileBytes: spec.fileBytes, downloaders: spec.downloaders, uploadLimit: spec.uploadLimit, fluidBoundS: fluid, systems: {} }
  for (const k of spec.systems) c.systems[k] = []
  for (let r = 0; r < ctx.runs; r++) {
    for (const key of spec.systems) {
      const work = await makeTempDir(`${key}`)
      try {
        await settleDisk(ctx.tools)
        const run = await runSystem(key, { file, name: path.basename(file), fileBytes: spec.fileBytes, downloaders: spec.downloaders, uploadLimit: spec.uploadLimit, timeoutMs, work, tools: ctx.tools, log: ctx.log })
        c.systems[key]?.push(run)
        ctx.log(`bench: ${spec.name} run ${r + 1}/${ctx.runs} ${SYSTEMS[key]}: ${describeRun(run)}`)
      } finally {
        await removeTempDir(work)
      }
    }
  }
  return c
}

/** Makes the random file of `bytes` in a temp dir, runs `fn` with its path, removes it. */
export async function withRandomFile<T> (bytes: number, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir('data')
  try {
    const file = path.join(dir, `random-${Math.round(bytes / MiB)}MiB.bin`)
    await writeRandomFile(file, bytes)
    return await fn(file)
  } finally {
    await removeTempDir(dir)
  }
}
