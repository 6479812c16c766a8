import { randomBytes } from './crypto.ts'
import { open, rename, unlink } from 'node:fs/promises'
import path from 'node:path'

/**
 * Writes `data` to `file` so that readers see either the old file or the whole new one (temp + rename).
 * With `durable` (default true) the temp file is fsynced before the rename, so the new content also
 * survives a power cut.
 */
export async function writeFileAtomic (file: string, data: string | Buffer, opts: { durable?: boolean } = {}): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', 0o644)
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
