import { createHash } from '../util/crypto.ts'
import { open, stat } from 'node:fs/promises'
import { HASH_PIECE_BYTES, HashWorkerError, hashSegmentsInParallel, worthThreads } from './hash-pool.ts'
import { countSegments, type FileMeta } from '../protocol/messages.ts'

/** Default segment size of real files: 1 MiB. */
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024

/**
 * Cuts a file on disk into segments and hashes each with SHA-256. Files of at least
 * PARALLEL_HASH_MIN_SEGMENTS segments are hashed on as many threads as the machine has (see
 * hash-pool.ts), smaller ones on this thread; either way a thread reads 128 KiB at a time, so memory
 * stays small whatever the file size. `name` is the name registered with the tracker.
 */
export async function hashFile (filePath: string, name: string, segmentSize = DEFAULT_SEGMENT_BYTES): Promise<FileMeta> {
  const size = (await stat(filePath)).size
  const n = countSegments(size, segmentSize)
  let hashes: Buffer | null = null
  if (worthThreads(n)) {
    try {
      const digests = await hashSegmentsInParallel(filePath, size, segmentSize)
      if (digests.whole < n) throw new Error(`${filePath} shrank while it was being hashed`)
      hashes = digests.hashes
    } catch (err) {
      // No threads here (a worker could not start): hash on this one.
      if (!(err instanceof HashWorkerError)) throw err
    }
  }
  hashes ??= await hashSequentially(filePath, size, segmentSize)
  return { name, size, segmentSize, algo: 'sha256', hashes }
}

/** The segment hashes of the first `size` bytes of `filePath`, read (HASH_PIECE_BYTES at a time) and hashed on this thread. */
async function hashSequentially (filePath: string, size: number, segmentSize: number): Promise<Buffer> {
  const fh = await open(filePath, 'r')
  try {
    const n = countSegments(size, segmentSize)
    const hashes = Buffer.alloc(n * 32)
    const buf = Buffer.allocUnsafe(Math.min(HASH_PIECE_BYTES, Math.max(size, 1)))
    for (let i = 0; i < n; i++) {
      const len = Math.min(segmentSize, size - i * segmentSize)
      const hash = createHash('sha256')
      let got = 0
      while (got < len) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, len - got), i * segmentSize + got)
        if (bytesRead === 0) throw new Error(`${filePath} shrank while it was being hashed`)
        hash.update(buf.subarray(0, bytesRead))
        got += bytesRead
      }
      hash.digest().copy(hashes, i * 32)
    }
    return hashes
  } finally {
    await fh.close()
  }
}
