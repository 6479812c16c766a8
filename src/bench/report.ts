/** Summaries (median and spread over runs, ratios within runs) and the Markdown report. PURE. */
import { swarmEfficiency } from './fluid.ts'
import type { SwarmPhases } from './phases.ts'
import type { BenchResults, ClassicCase, SwarmCase, SystemRun } from './results.ts'
import { pairedRatios, summarize, type Spread } from './stats.ts'
import { formatNumber, formatSpread, formatTable } from './table.ts'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** Median and spread of one system's runs, derived per run. */
export interface SystemSummary {
  runs: number
  failed: number
  wallS: Spread | null
  mibPerS: Spread | null
  cpuSPerGiB: Spread | null
  seedShare: Spread | null
  /** Seed preparation (hashing the file) in seconds; see SystemRun.prepS. */
  prepS: Spread | null
  /** DFSS: the phases of its runs (see phases.ts) and the exit after the last getter was done; null when no run has them. */
  phases: PhaseSummary | null
  /** Highest peak RSS (MiB) per role over all runs. */
  peakRssMiB: Record<string, number>
  errors: string[]
}

/** Median and spread of each phase of a system's runs, in seconds. */
export interface PhaseSummary { startupS: Spread | null, passS: Spread | null, tailS: Spread | null, exitS: Spread | null, spreadMedianS: Spread | null }

function summarizePhases (runs: readonly SystemRun[]): PhaseSummary | null {
  const phased = runs.filter(r => r.ok && r.phases != null)
  if (phased.length === 0) return null
  const pick = (f: (p: SwarmPhases) => number): Spread | null => summarize(phased.map(r => f(r.phases as SwarmPhases)))
  return {
    startupS: pick(p => p.startupS),
    passS: pick(p => p.passS),
    tailS: pick(p => p.tailS),
    exitS: summarize(phased.map(r => r.exitS ?? null)),
    spreadMedianS: pick(p => p.spreadMedianS)
  }
}

/** Summarises one system's runs. */
export function summarizeSystem (runs: readonly SystemRun[]): SystemSummary {
  const peak: Record<string, number> = {}
  for (const r of runs) for (const [role, kib] of Object.entries(r.peakRssKiB)) peak[role] = Math.max(peak[role] ?? 0, kib / 1024)
  return {
    runs: runs.length,
    failed: runs.filter(r => !r.ok).length,
    wallS: summarize(runs.map(r => r.wallS)),
    mibPerS: summarize(runs.map(r => (r.wallS !== null && r.wallS > 0 ? r.bytes / MiB / r.wallS : null))),
    cpuSPerGiB: summarize(runs.map(r => (r.cpuS !== null && r.bytes > 0 ? r.cpuS / (r.bytes / GiB) : null))),
    seedShare: summarize(runs.map(r => r.seedShare ?? null)),
    prepS: summarize(runs.map(r => r.prepS ?? null)),
    phases: summarizePhases(runs),
    peakRssMiB: peak,
    errors: [...new Set(runs.filter(r => !r.ok).map(r => r.error ?? 'failed'))]
  }
}

function walls (c: SwarmCase, key: string): Array<number | null> { return (c.systems[key] ?? []).map(r => r.wallS) }

/** aria2's time until its copies were on disk, per run (see SystemRun.durableS). */
function durables (c: SwarmCase): Array<number | null> { return (c.systems['aria2'] ?? []).map(r => (r.ok ? r.durableS ?? null : null)) }

/** Median and spread of per-run wall-time ratios a / b of two systems in one case. */
export function wallRatio (c: SwarmCase, a: string, b: string): Spread | null {
  return summarize(pairedRatios(walls(c, a), walls(c, b)))
}

/** Efficiency T_min / T per run of one system, summarised. */
export function efficiencyOf (c: SwarmCase, key: string): Spread | null {
  if (c.fluidBoundS === null) return null
  const tMin = c.fluidBoundS
  return summarize(walls(c, key).map(t => swarmEfficiency(tMin, t)))
}

/** Everything derived from the results, as written to JSON beside them. */
export interface BenchSummary {
  classic: Array<{ name: string, ranks: number, dfss: Spread | null, floor: Spread | null, dfssOverFloor: Spread | null, floorNoCa: Spread | null, dfssOverFloorNoCa: Spread | null, mpirun: Spread | null, mpirunFloor: Spread | null, mpirunOverFloor: Spread | null }> | null
  raw: { systems: Record<string, SystemSummary>, dfssOverAria2: Spread | null, dfssOverHashBound: Spread | null, dfssOverNodeHash: Spread | null, dfssOverHttp: Spread | null, dfssOverDiskBound: Spread | null, aria2DurableS: Spread | null, dfssOverAria2Durable: Spread | null } | null
  swarm: Array<{ name: string, downloaders: number, fluidBoundS: number | null, systems: Record<string, SystemSummary>, dfssEfficiency: Spread | null, aria2Efficiency: Spread | null, dfssOverAria2: Spread | null }> | null
  scale: { systems: Record<string, SystemSummary>, dfssOverAria2: Spread | null } | null
}

function summarizeSystems (c: SwarmCase): Record<string, SystemSummary> {
  return Object.fromEntries(Object.entries(c.systems).map(([k, runs]) => [k, summarizeSystem(runs)]))
}

function classicRow (c: ClassicCase): NonNullable<BenchSummary['classic']>[number] {
  return {
    name: c.name,
    ranks: c.ranks,
    dfss: summarize(c.dfss),
    floor: summarize(c.floor),
    dfssOverFloor: summarize(pairedRatios(c.dfss, c.floor)),
    floorNoCa: summarize(c.floorNoCa),
    dfssOverFloorNoCa: summarize(pairedRatios(c.dfss, c.floorNoCa)),
    mpirun: c.mpirun === null ? null : summarize(c.mpirun),
    mpirunFloor: c.mpirunFloor === null ? null : summarize(c.mpirunFloor),
    mpirunOverFloor: c.mpirun === null || c.mpirunFloor === null ? null : summarize(pairedRatios(c.mpirun, c.mpirunFloor))
  }
}

/** Derives medians, spreads and ratios from the raw results. */
export function summarizeResults (r: BenchResults): BenchSummary {
  return {
    classic: r.classic?.map(classicRow) ?? null,
    raw: r.raw === null
      ? null
      : {
          systems: summarizeSystems(r.raw),
          dfssOverAria2: wallRatio(r.raw, 'dfss', 'aria2'),
          dfssOverHashBound: wallRatio(r.raw, 'dfss', 'sha256sum'),
          dfssOverNodeHash: wallRatio(r.raw, 'dfss', 'node'),
          dfssOverHttp: wallRatio(r.raw, 'dfss', 'http'),
          dfssOverDiskBound: wallRatio(r.raw, 'dfss', 'disk'),
          aria2DurableS: summarize(durables(r.raw)),
          dfssOverAria2Durable: summarize(pairedRatios(walls(r.raw, 'dfss'), durables(r.raw)))
        },
    swarm: r.swarm?.map(c => ({ name: c.name, downloaders: c.downloaders, fluidBoundS: c.fluidBoundS, systems: summarizeSystems(c), dfssEfficiency: efficiencyOf(c, 'dfss'), aria2Efficiency: efficiencyOf(c, 'aria2'), dfssOverAria2: wallRatio(c, 'dfss', 'aria2') })) ?? null,
    scale: r.scale === null ? null : { systems: summarizeSystems(r.scale), dfssOverAria2: wallRatio(r.scale, 'dfss', 'aria2') }
  }
}

const LABELS: Record<string, string> = {
  dfss: 'DFSS',
  aria2: 'aria2',
  http: 'HTTP, one server (no P2P)',
  sha256sum: 'hash bound: sha256sum ×N',
  node: 'hash bound: node:crypto ×N (1 MiB pieces)',
  disk: 'disk bound: dd oflag=direct conv=fsync ×N'
}

function label (key: string): string { return LABELS[key] ?? key }

function maxRss (s: SystemSummary): string {
  const v = Object.values(s.peakRssMiB)
  return v.length === 0 ? 'n/a' : Math.max(...v).toFixed(0)
}

function rssByRole (s: SystemSummary): string {
  const e = Object.entries(s.peakRssMiB)
  return e.length === 0 ? 'n/a' : e.map(([role, mib]) => `${role} ${mib.toFixed(0)}`).join(', ')
}

function failures (systems: Record<string, SystemSummary>): string {
  const lines: string[] = []
  for (const [k, s] of Object.entries(systems)) if (s.failed > 0) lines.push(`- ${label(k)}: ${s.failed} of ${s.runs} runs failed: ${s.errors.join('; ')}\n`)
  return lines.length === 0 ? '' : '\n' + lines.join('')
}

function systemTable (c: SwarmCase, sum: Record<string, SystemSummary>, withSeedShare: boolean): string {
  const header = ['system', 'wall s', 'MiB/s moved', 'CPU s per GiB', 'peak RSS MiB (largest process)', 'DFSS time ÷ this', ...(withSeedShare ? ['seed share of uploads'] : [])]
  const rows = Object.keys(c.systems).map(k => {
    const s = sum[k] as SystemSummary
    return [label(k), formatSpread(s.wallS), formatSpread(s.mibPerS, 0), formatSpread(s.cpuSPerGiB), maxRss(s), k === 'dfss' ? '1' : formatSpread(wallRatio(c, 'dfss', k)), ...(withSeedShare ? [formatSpread(s.seedShare, 1, '%', 100)] : [])]
  })
  return formatTable(header, rows)
}

function mib (bytes: number): string { return `${(bytes / MiB).toFixed(0)} MiB` }

/** The Markdown report of one benchmark. */
export function renderReport (r: BenchResults, sum: BenchSummary = summarizeResults(r)): string {
  const out: string[] = []
  out.push('# DFSS benchmark\n\n')
  out.push(`${r.date} on ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, ${r.machine.os}; load average at start ${r.machine.loadAtStart.join(', ')}.\n`)
  out.push(`Command: \`${r.command}\`${r.quick ? ' (quick: smaller sizes, one run)' : ''}. ${r.runs} run${r.runs === 1 ? '' : 's'} per case: median (min–max). Ratios are taken within each run, then summarised. All traffic on 127.0.0.1.\n`)
  out.push('\nMethod: wall time runs from starting the downloaders until the last one has the whole file (DFSS: the last `dfss get --json` prints its `done` event, once the file is verified, synced to disk and renamed into place, and every getter must then exit 0; aria2: its `--on-bt-download-complete` hook; HTTP: curl exits). ' +
    'Seed preparation (hashing, mktorrent) is not timed. Before every timed run, `sync` writes back what earlier runs (and the making of the file) left dirty in the page cache. aria2 downloaders keep seeding until the last completes; DFSS getters stay (default `--linger`) until the tracker counts every member a seed, or a second passes without a request. ' +
    'CPU is user+sys of every process of the system during the transfer (tracker, seed, downloaders; GNU time and /proc/PID/stat); peak RSS is each process\'s max resident set.\n')
  if (r.notes.length > 0) out.push('\n' + r.notes.map(n => `- ${n}\n`).join(''))

  if (r.classic !== null && sum.classic !== null) {
    out.push('\n## Classic: wall time per run (s)\n\n')
    out.push('Start-up floor: as many bare `node -e 0` started at once as the run has ranks (under mpirun: `mpirun -np N node -e 0`), in the bench\'s own environment. ' +
      'Where that environment sets NODE_EXTRA_CA_CERTS, every Node process parses those certificates at start; `dfss` never uses TLS and starts its processes without it, ' +
      'so the floor is also shown without it ("no CA floor"): the fairer yardstick for what DFSS adds. mpirun runs start the `dfss` executable, as a user would.\n\n')
    out.push(formatTable(
      ['case', 'ranks', 'dfss run', 'start-up floor', 'dfss run ÷ floor', 'no CA floor', 'dfss run ÷ no CA floor', 'mpirun + dfss mpi', 'mpirun floor', 'mpirun ÷ floor'],
      sum.classic.map(c => [c.name, String(c.ranks), formatSpread(c.dfss), formatSpread(c.floor), formatSpread(c.dfssOverFloor), formatSpread(c.floorNoCa), formatSpread(c.dfssOverFloorNoCa), formatSpread(c.mpirun), formatSpread(c.mpirunFloor), formatSpread(c.mpirunOverFloor)])))
    const errs = r.classic.flatMap(c => c.errors.map(e => `- ${c.name}: ${e}\n`))
    if (errs.length > 0) out.push('\n' + errs.join(''))
    out.push('\nTargets: each public test under mpirun faster than the best C/MPI solutions (0.55–0.85 s here); the flash crowd within 1.5× its start-up floor.\n')
  }

  if (r.raw !== null && sum.raw !== null) {
    const c = r.raw
    out.push(`\n## Raw speed: one seed, ${c.downloaders} downloaders, ${mib(c.fileBytes)} random file, no rate limit\n\n`)
    out.push(systemTable(c, sum.raw.systems, false))
    out.push(`\n- DFSS ÷ aria2 wall time: **${formatSpread(sum.raw.dfssOverAria2)}** (target ≤ 0.5)\n`)
    out.push(`- DFSS ÷ hash bound (sha256sum ×${c.downloaders}): **${formatSpread(sum.raw.dfssOverHashBound)}** (heading for 2); ÷ node:crypto hash bound: ${formatSpread(sum.raw.dfssOverNodeHash)}\n`)
    out.push(`- DFSS ÷ HTTP: ${formatSpread(sum.raw.dfssOverHttp)}\n`)
    if (sum.raw.systems['disk'] !== undefined) out.push(`- DFSS ÷ disk bound (${c.downloaders} copies written with O_DIRECT and fsynced at once: what storing the copies durably takes on this disk): **${formatSpread(sum.raw.dfssOverDiskBound)}**\n`)
    if (sum.raw.aria2DurableS !== null) out.push(`- aria2 does not sync its downloads; until its copies were on disk as well (its last completion, then \`sync\` of the ${c.downloaders} files): ${formatSpread(sum.raw.aria2DurableS)} s, DFSS ÷ that: **${formatSpread(sum.raw.dfssOverAria2Durable)}**\n`)
    const dfssPrep = sum.raw.systems['dfss']?.prepS ?? null
    const aria2Prep = sum.raw.systems['aria2']?.prepS ?? null
    if (dfssPrep !== null || aria2Prep !== null) out.push(`- seed preparation, not timed above (from starting the process until the file is hashed and can be served): DFSS \`share\` (SHA-256) ${formatSpread(dfssPrep)} s, \`mktorrent\` (SHA-1, until it exits) ${formatSpread(aria2Prep)} s\n`)
    for (const k of ['dfss', 'aria2', 'http']) if (sum.raw.systems[k] !== undefined) out.push(`- peak RSS by role (MiB), ${label(k)}: ${rssByRole(sum.raw.systems[k] as SystemSummary)}${k === 'dfss' ? ' (target: every process ≤ 150)' : ''}\n`)
    out.push(failures(sum.raw.systems))
  }

  if (r.swarm !== null && sum.swarm !== null && sum.swarm.length > 0) {
    const first = r.swarm[0] as SwarmCase
    out.push(`\n## Swarm efficiency: every process uploads at most ${formatNumber((first.uploadLimit ?? 0) / MiB, 0)} MiB/s, ${mib(first.fileBytes)}\n\n`)
    out.push('T_min = max(F/u_seed, N·F/(u_seed + N·u_peer)) (Kumar & Ross, 2006); efficiency = T_min / T.\n\n')
    out.push(formatTable(
      ['N', 'T_min s', 'DFSS s', 'DFSS efficiency', 'aria2 s', 'aria2 efficiency', 'DFSS ÷ aria2', 'DFSS CPU s/GiB', 'DFSS peak RSS MiB'],
      sum.swarm.map(s => [String(s.downloaders), formatNumber(s.fluidBoundS), formatSpread(s.systems['dfss']?.wallS ?? null), formatSpread(s.dfssEfficiency, 0, '%', 100), formatSpread(s.systems['aria2']?.wallS ?? null), formatSpread(s.aria2Efficiency, 0, '%', 100), formatSpread(s.dfssOverAria2), formatSpread(s.systems['dfss']?.cpuSPerGiB ?? null), s.systems['dfss'] !== undefined ? maxRss(s.systems['dfss']) : 'n/a'])))
    out.push('\nTarget: DFSS at least 90% for every N.\n')
    const phased = sum.swarm.filter(s => s.systems['dfss']?.phases != null)
    if (phased.length > 0) {
      out.push('\nWhere DFSS\'s time goes (from the getters\' `--json` events): start-up until the seed\'s first segment arrived, the seed\'s pass until every segment had arrived once from it (T_min when the seed\'s cap binds), the tail until the last getter was done (the end of the timed run), then the exit, not timed (the getters wait for the tracker to close the finished swarm, and shut down); spread: how long after its first arrival from the seed a segment had reached every getter (median of a run\'s segments).\n\n')
      out.push(formatTable(['N', 'start-up s', 'seed\'s pass s', 'tail s', 'exit s (not timed)', 'spread s'],
        phased.map(s => { const p = s.systems['dfss']?.phases as PhaseSummary; return [String(s.downloaders), formatSpread(p.startupS), formatSpread(p.passS), formatSpread(p.tailS), formatSpread(p.exitS), formatSpread(p.spreadMedianS)] })))
    }
    for (const s of sum.swarm) out.push(failures(s.systems))
  }

  if (r.scale !== null && sum.scale !== null) {
    const c = r.scale
    out.push(`\n## Scale: one seed, ${c.downloaders} downloaders, ${mib(c.fileBytes)}\n\n`)
    out.push(systemTable(c, sum.scale.systems, true))
    out.push('\nSeed share: DFSS from the downloaders\' `--json` summaries; aria2 from the bytes the seed process wrote (`wchar` of /proc/PID/io) over all bytes delivered. Target: DFSS ≤ 25%.\n')
    out.push(failures(sum.scale.systems))
  }
  return out.join('')
}
