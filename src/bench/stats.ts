/** Median and spread of repeated measurements. PURE: no I/O. */

/** Median, minimum and maximum of the finite values of one measurement over several runs. */
export interface Spread { median: number, min: number, max: number, n: number }

/** Median of a non-empty list (the mean of the two middle values for an even count). */
export function median (values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list')
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/**
 * Summarises the runs of one measurement; failed runs (null, NaN, ±Infinity) are left out.
 * Returns null when no run produced a value.
 */
export function summarize (values: ReadonlyArray<number | null | undefined>): Spread | null {
  const ok = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  if (ok.length === 0) return null
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length }
}

/** a / b, or null when either is missing or b is not positive. */
export function ratio (a: number | null | undefined, b: number | null | undefined): number | null {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null
  return a / b
}

/** Per-run ratios a[i] / b[i] (pairs from the same run, as the issue asks: compare within a run). */
export function pairedRatios (a: ReadonlyArray<number | null>, b: ReadonlyArray<number | null>): Array<number | null> {
  return a.map((x, i) => ratio(x, b[i]))
}
