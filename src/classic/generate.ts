import { createHash } from '../util/crypto.ts'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

/** Deterministic 32-hex-character hashes for generated scenarios. */
export function fakeHashes (label: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => createHash('md5').update(`${label}:${i}`).digest('hex'))
}

/**
 * Writes a flash-crowd scenario into `dir`: rank 1 owns one `segments`-segment file, ranks
 * 2..downloaders+1 want it. Returns the number of ranks to run (tracker included).
 */
export async function writeFlashCrowd (dir: string, downloaders: number, segments = 100, name = 'crowd'): Promise<number> {
  await mkdir(dir, { recursive: true })
  const hashes = fakeHashes(name, segments)
  await writeFile(path.join(dir, 'in1.txt'), `1\n${name} ${segments}\n${hashes.join('\n')}\n0`)
  for (let r = 2; r <= downloaders + 1; r++) await writeFile(path.join(dir, `in${r}.txt`), `0\n1\n${name}`)
  await writeFile(path.join(dir, `out-${name}.txt`), hashes.join('\n'))
  return downloaders + 2
}
