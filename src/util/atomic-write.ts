import { open, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import path from 'node:path'

let tempSerial = 0

/**
 * Creates a fresh temp file beside `file`: named after our pid and a counter (no random bytes, so no
 * node:crypto to load); `wx` refuses a name already taken, for instance by a crashed process whose pid
 * came back, and the next number is tried.
 */
async function openTemp (file: string): Promise<{ tmp: string, fh: FileHandle }> {
  for (let attempt = 0; ; attempt++) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}-${(++tempSerial).toString(36)}.tmp`)
    try {
      return { tmp, fh: await open(tmp, 'wx', 0o644) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 100) throw err
    }
  }
}

/**
 * Writes `data` to `file` so that readers see either the old file or the whole new one (temp + rename).
 * With `durable` (default true) the temp file is fsynced before the rename, so the new content also
 * survives a power cut.
 */
export async function writeFileAtomic (file: string, data: string | Buffer, opts: { durable?: boolean } = {}): Promise<void> {
  const { tmp, fh } = await openTemp(file)
  try {
    await fh.writeFile(data)
    if (opts.durable !== false) await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, file)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}
