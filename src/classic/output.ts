import path from 'node:path'

/** Path of the file rank R writes for `name`: `DIR/clientR_<name>`. */
export function classicOutputPath (dir: string, rank: number, name: string): string {
  return path.join(dir, `client${rank}_${name}`)
}

/** Content of a `clientR_<name>` file: the hashes in segment order, one a line (no trailing newline, as the reference outputs). */
export function formatClassicOutput (hashes: readonly string[]): string {
  return hashes.join('\n')
}
