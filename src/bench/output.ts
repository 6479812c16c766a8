/** Machine description and the result files under bench/results/. */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { RESULTS_DIR, ROOT } from './files.ts'
import type { BenchSummary } from './report.ts'
import type { BenchResults, MachineInfo } from './results.ts'

/** CPU model, cores, memory, Node version and OS of this machine. */
export function machineInfo (): MachineInfo {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.versions.node,
    os: `${os.type()} ${os.release()}`,
    loadAtStart: os.loadavg().map(x => Math.round(x * 100) / 100)
  }
}

/** The command line that started this process, with paths relative to the repository. */
export function commandLine (argv: readonly string[] = process.argv): string {
  const script = argv[1]
  if (script === undefined) return 'node'
  const rel = path.relative(ROOT, script)
  const shown = rel.startsWith('..') ? script : rel
  return ['node', shown, ...argv.slice(2)].join(' ')
}

async function writeAtomic (file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, file)
}

/**
 * Writes BASE.json (results and summary) and BASE.md under bench/results/; BASE is "latest" for a full
 * run of every scenario, "quick" for --quick and "partial" for a subset. Returns the two paths.
 */
export async function writeResults (r: BenchResults, summary: BenchSummary, markdown: string, allScenarios: boolean): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const base = r.quick ? 'quick' : allScenarios ? 'latest' : 'partial'
  const json = path.join(RESULTS_DIR, `${base}.json`)
  const md = path.join(RESULTS_DIR, `${base}.md`)
  await writeAtomic(json, JSON.stringify({ ...r, summary }, null, 2) + '\n')
  await writeAtomic(md, markdown)
  return [json, md]
}
