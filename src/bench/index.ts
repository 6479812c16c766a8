/**
 * `dfss bench`: DFSS beside aria2, plain HTTP and hash bounds on this machine (issue 5).
 * Scenarios: classic (public tests and a flash crowd), raw (1 GiB, 3 downloaders), swarm (upload cap,
 * fluid bound, N = 3, 7, 15) and scale (31 downloaders). Everything runs on loopback in temp dirs.
 */
import { runClassicScenario } from './classic.ts'
import { MiB, removeAllTempDirs } from './files.ts'
import { commandLine, machineInfo, writeResults } from './output.ts'
import { stopEverything } from './proc.ts'
import { renderReport, summarizeResults } from './report.ts'
import type { BenchResults, SwarmCase } from './results.ts'
import { runSwarmCase, withRandomFile, type SwarmContext, type SystemKey } from './swarm-scenarios.ts'
import { prepareTools } from './tools.ts'

/** Scenario names accepted by `--scenario`. */
export const SCENARIOS = ['classic', 'raw', 'swarm', 'scale'] as const
export type ScenarioName = typeof SCENARIOS[number]

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Subset of {@link SCENARIOS}; empty: all. */
  scenarios: string[]
  /** Runs per case (median and spread); --quick forces 1. */
  runs: number
  /** Smaller sizes and one run, for a check in a couple of minutes. */
  quick: boolean
  /** The Markdown report goes here. */
  out: (s: string) => void
  /** Progress and problems go here. */
  err: (s: string) => void
}

/** Sizes of one benchmark: full or --quick. */
export interface BenchSizes { rawBytes: number, rawDownloaders: number, swarmBytes: number, swarmPeers: number[], scaleBytes: number, scaleDownloaders: number, uploadLimit: number }

/** Full sizes as the issue asks, or the quick ones. */
export function benchSizes (quick: boolean): BenchSizes {
  return quick
    ? { rawBytes: 128 * MiB, rawDownloaders: 3, swarmBytes: 32 * MiB, swarmPeers: [3], scaleBytes: 16 * MiB, scaleDownloaders: 31, uploadLimit: 20 * MiB }
    : { rawBytes: 1024 * MiB, rawDownloaders: 3, swarmBytes: 256 * MiB, swarmPeers: [3, 7, 15], scaleBytes: 64 * MiB, scaleDownloaders: 31, uploadLimit: 20 * MiB }
}

const RAW_SYSTEMS: SystemKey[] = ['dfss', 'aria2', 'http', 'sha256sum', 'node', 'disk']
const P2P_SYSTEMS: SystemKey[] = ['dfss', 'aria2']

/** Runs the benchmark; resolves with the exit code (0 when every DFSS run succeeded). */
export async function runBench (o: BenchOptions): Promise<number> {
  const unknown = o.scenarios.filter(s => !(SCENARIOS as readonly string[]).includes(s))
  if (unknown.length > 0) { o.err(`dfss bench: unknown scenario ${unknown.join(', ')} (choose from ${SCENARIOS.join(', ')})`); return 2 }
  if (!Number.isInteger(o.runs) || o.runs < 1) { o.err('dfss bench: --runs must be a whole number of at least 1'); return 2 }
  const chosen = new Set<ScenarioName>(o.scenarios.length === 0 ? SCENARIOS : o.scenarios as ScenarioName[])
  const runs = o.quick ? 1 : o.runs
  const sizes = benchSizes(o.quick)

  // Ctrl-C or SIGTERM: stop every child and remove the temp dirs before leaving.
  const onSignal = (sig: NodeJS.Signals): void => {
    o.err(`dfss bench: ${sig}, stopping`)
    void stopEverything().then(removeAllTempDirs).finally(() => { process.exit(sig === 'SIGINT' ? 130 : 143) })
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const { tools, notes } = await prepareTools(o.err, { needAria2: chosen.has('raw') || chosen.has('swarm') || chosen.has('scale') })
    if (chosen.has('classic') && tools.mpirun === null) notes.push('mpirun columns skipped: mpirun not found (apt-get install openmpi-bin)')
    if (o.quick) notes.push('quick run: raw 128 MiB, swarm 32 MiB with N = 3 only, scale 16 MiB, one run each: for checking the bench, not for conclusions')
    const results: BenchResults = { date: new Date().toISOString(), command: commandLine(), machine: machineInfo(), quick: o.quick, runs, notes, classic: null, raw: null, swarm: null, scale: null }
    const ctx: SwarmContext = { runs, tools, log: o.err }

    if (chosen.has('classic')) results.classic = await runClassicScenario({ runs, tools, log: o.err })
    if (chosen.has('raw')) {
      results.raw = await withRandomFile(sizes.rawBytes, async file => await runSwarmCase(ctx, { name: 'raw', fileBytes: sizes.rawBytes, downloaders: sizes.rawDownloaders, uploadLimit: null, systems: RAW_SYSTEMS }, file))
    }
    if (chosen.has('swarm')) {
      results.swarm = await withRandomFile(sizes.swarmBytes, async file => {
        const cases: SwarmCase[] = []
        for (const n of sizes.swarmPeers) cases.push(await runSwarmCase(ctx, { name: `swarm N=${n}`, fileBytes: sizes.swarmBytes, downloaders: n, uploadLimit: sizes.uploadLimit, systems: P2P_SYSTEMS }, file))
        return cases
      })
    }
    if (chosen.has('scale')) {
      results.scale = await withRandomFile(sizes.scaleBytes, async file => await runSwarmCase(ctx, { name: 'scale', fileBytes: sizes.scaleBytes, downloaders: sizes.scaleDownloaders, uploadLimit: null, systems: P2P_SYSTEMS }, file))
    }

    const summary = summarizeResults(results)
    const md = renderReport(results, summary)
    o.out(md)
    const files = await writeResults(results, summary, md, chosen.size === SCENARIOS.length)
    o.err(`dfss bench: wrote ${files.join(' and ')}`)
    return dfssFailed(results) ? 1 : 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await stopEverything()
    await removeAllTempDirs()
  }
}

/** True when any DFSS run failed (references may fail without failing the bench). */
function dfssFailed (r: BenchResults): boolean {
  const swarmCases = [r.raw, ...(r.swarm ?? []), r.scale].filter((c): c is SwarmCase => c !== null)
  return swarmCases.some(c => (c.systems['dfss'] ?? []).some(x => !x.ok)) ||
    (r.classic ?? []).some(c => c.dfss.some(x => x === null) || (c.mpirun ?? []).some(x => x === null))
}
