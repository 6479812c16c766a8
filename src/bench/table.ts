/** Markdown table and number formatting. PURE. */
import type { Spread } from './stats.ts'

/** Column alignment in a Markdown table. */
export type Align = 'left' | 'right'

function escapeCell (s: string): string { return s.replace(/\|/g, '\\|').replace(/\n/g, ' ') }

/**
 * A GitHub-flavoured Markdown table; cells are padded so the plain text lines up too.
 * `align` defaults to left for the first column and right for the others.
 */
export function formatTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>, align?: readonly Align[]): string {
  const cols = header.length
  for (const r of rows) if (r.length !== cols) throw new RangeError(`row has ${r.length} cells, header has ${cols}`)
  const al = Array.from({ length: cols }, (_, i) => align?.[i] ?? (i === 0 ? 'left' : 'right'))
  const cells = [header, ...rows].map(r => r.map(escapeCell))
  const widths = Array.from({ length: cols }, (_, i) => Math.max(3, ...cells.map(r => (r[i] as string).length)))
  const line = (r: readonly string[]): string => '| ' + r.map((c, i) => (al[i] === 'right' ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join(' | ') + ' |'
  const rule = '|' + widths.map((w, i) => (al[i] === 'right' ? ' ' + '-'.repeat(w - 1) + ': ' : ' ' + '-'.repeat(w) + ' ')).join('|') + '|'
  return [line(cells[0] as string[]), rule, ...cells.slice(1).map(line)].join('\n') + '\n'
}

/** A number with `digits` decimals, or "n/a". */
export function formatNumber (v: number | null | undefined, digits = 2): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : 'n/a'
}

/** "median (min–max)", or just the median for one run, or "n/a"; `scale` multiplies every value (e.g. 100 for %). */
export function formatSpread (s: Spread | null, digits = 2, suffix = '', scale = 1): string {
  if (s === null) return 'n/a'
  const f = (v: number): string => (v * scale).toFixed(digits)
  return s.n === 1 || s.min === s.max ? `${f(s.median)}${suffix}` : `${f(s.median)}${suffix} (${f(s.min)}–${f(s.max)})`
}

/** Bytes as MiB with one decimal. */
export function formatMiB (bytes: number | null | undefined): string {
  return typeof bytes === 'number' && Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : 'n/a'
}
