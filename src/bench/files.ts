/** Paths, temporary directories and test files of the benchmark. */
import { randomFillSync } from 'node:crypto'
import { open, mkdtemp, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Repository root (this file runs from dist/src/bench/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** The CLI entry every DFSS process runs. */
export const BIN = path.join(ROOT, 'bin', 'dfss.js')
/** The public classic tests. */
export const FIXTURES = path.join(ROOT, 'test', 'fixtures')
/** Where results are written. */
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results')

export const MiB = 1024 * 1024
const WRITE_CHUNK_BYTES = 8 * MiB

const made = new Set<string>()

/** A fresh directory under the OS temp dir, removed by {@link removeTempDir} or {@link removeAllTempDirs}. */
export async function makeTempDir (label: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dfss-bench-${label}-`))
  made.add(dir)
  return dir
}

/** Removes a directory made by {@link makeTempDir}. */
export async function removeTempDir (dir: string): Promise<void> {
  made.delete(dir)
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Removes every temp dir still around (on failure or interrupt). */
export async function removeAllTempDirs (): Promise<void> {
  await Promise.all([...made].map(removeTempDir))
}

/** Writes `bytes` of random data to `file` (incompressible, no repeated pieces). */
export async function writeRandomFile (file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w')
  try {
    const buf = Buffer.allocUnsafe(Math.min(WRITE_CHUNK_BYTES, Math.max(bytes, 1)))
    for (let done = 0; done < bytes;) {
      const n = Math.min(buf.length, bytes - done)
      randomFillSync(buf, 0, n)
      await fh.write(buf, 0, n, done)
      done += n
    }
  } finally {
    await fh.close()
  }
}

/** Size of a file, or -1 when it does not exist. */
export async function fileSize (file: string): Promise<number> {
  try { return (await stat(file)).size } catch { return -1 }
}
