import { readFileSync } from 'node:fs'

/** Process limits as Linux shows them in /proc (elsewhere: none known). */

/**
 * The process's address-space limit (RLIMIT_AS) in bytes from the text of /proc/self/limits; null
 * when there is none, or no /proc to tell (macOS, Windows: no such limit in practice).
 */
export function addressSpaceLimit (limitsText: string | null): number | null {
  const limit = limitsText === null ? undefined : /^Max address space\s+(\S+)/m.exec(limitsText)?.[1]
  return limit === undefined || limit === 'unlimited' ? null : Number(limit)
}

/** Reads a /proc file; null where there is none. */
export function readProc (file: string): string | null {
  try { return readFileSync(file, 'utf8') } catch { return null }
}
