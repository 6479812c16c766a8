import { createHash } from '../util/crypto.ts'
import { open } from 'node:fs/promises'
import { countSegments, type FileMeta } from '../protocol/messages.ts'

/** Default segment size of real files: 1 MiB. */
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024

/**
 * Cuts a file on disk into segments and hashes each with SHA-256, reading one segment at a time
 * (memory stays at one segment whatever the file size). `name` is the name registered with the tracker.
 */
export async function hashFile (filePath: string, name: string, segmentSize = DEFAULT_SEGMENT_BYTES, onProgress?: (bytes: number) => void): Promise<FileMeta> {
  const fh = await open(filePath, 'r')
  try {
    const size = (await fh.stat()).size
    const n = countSegments(size, segmentSize)
    const hashes = Buffer.alloc(n * 32)
    const buf = Buffer.allocUnsafe(Math.min(segmentSize, Math.max(size, 1)))
    for (let i = 0; i < n; i++) {
      const len = Math.min(segmentSize, size - i * segmentSize)
      let got = 0
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, i * segmentSize + got)
        if (bytesRead === 0) throw new Error(`${filePath} shrank while it was being hashed`)
        got += bytesRead
      }
      createHash('sha256').update(buf.subarray(0, len)).digest().copy(hashes, i * 32)
      onProgress?.(len)
    }
    return { name, size, segmentSize, algo: 'sha256', hashes }
  } finally {
    await fh.close()
  }
}
