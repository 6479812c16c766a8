import type { Transfer } from '../protocol/messages.ts'

/** The `--stats` JSON of a classic run. */
export interface RunStats {
  ranks: number
  elapsedMs: number
  uploads: Record<string, number>
  transfers: Array<{ to: number, from: number, file: string, segments: number }>
}

/** Builds the stats object from the tracker's view (every (to, from, file) with k > 0, sorted). */
export function buildStats (ranks: number, elapsedMs: number, uploads: Map<number, number>, transfers: Array<Transfer & { to: number }>): RunStats {
  const up: Record<string, number> = {}
  for (const [id, n] of [...uploads.entries()].sort((a, b) => a[0] - b[0])) up[String(id)] = n
  const list = transfers.filter(t => t.segments > 0).map(t => ({ to: t.to, from: t.from, file: t.file, segments: t.segments }))
  list.sort((a, b) => a.to - b.to || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.from - b.from)
  return { ranks, elapsedMs: Math.round(elapsedMs), uploads: up, transfers: list }
}

/** A short human summary: per downloaded file, who sent how much; then uploads per rank. */
export function formatSummary (stats: RunStats): string {
  const byTarget = new Map<string, Array<{ from: number, segments: number }>>()
  for (const t of stats.transfers) {
    const key = `rank ${t.to} got ${t.file}`
    const list = byTarget.get(key) ?? []
    list.push({ from: t.from, segments: t.segments })
    byTarget.set(key, list)
  }
  const lines: string[] = []
  for (const [key, list] of byTarget) {
    const total = list.reduce((a, b) => a + b.segments, 0)
    const parts = list.sort((a, b) => b.segments - a.segments).map(x => `${x.segments} from rank ${x.from}`)
    lines.push(`  ${key} (${total} segments): ${parts.join(', ')}`)
  }
  const up = Object.entries(stats.uploads).map(([r, n]) => `${r}:${n}`).join('  ')
  lines.push(`  uploads per rank: ${up}`)
  return lines.join('\n')
}
