import { createHash } from '../util/crypto.ts'
import { open, stat } from 'node:fs/promises'
import { HashWorkerError, hashSegmentsInParallel, worthThreads } from './hash-pool.ts'
import { HASH_BYTES, countSegments, type FileMeta } from '../protocol/messages.ts'

/** Segment size of real files up to LARGE_FILE_BYTES: 1 MiB. */
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024

/** Files larger than this are cut into LARGE_SEGMENT_BYTES segments by default: 512 MiB, 512 segments of 1 MiB. */
export const LARGE_FILE_BYTES = 512 * 1024 * 1024

/**
 * Default segment size of files above LARGE_FILE_BYTES: 2 MiB. Every segment costs a getter a request,
 * a frame, a direct write, a digest finalisation and HAVEs to its subscribers, whatever its size; a
 * large file has segments enough to spread over any swarm, so they are made larger there. 1 GiB from
 * one seed to three getters (scripts/perf/swarm-run.sh 3, 4 pairs alternating, 2026-12-07): 3.16-3.90
 * s and 6.14-7.72 CPU s in 2 MiB segments against 3.59-4.23 s and 7.18-8.03 CPU s in 1 MiB ones.
 * Not larger for now: with the in-flight byte bound of `dfss get` (MAX_IN_FLIGHT_BYTES in
 * cli/real.ts), 4 MiB segments took 10-17% less CPU again, and a getter 114-121 MiB resident (106-112
 * MiB at 2 MiB), but the transfer was not clearly shorter in 3 pairs. Smaller files keep 1 MiB: a 256 MiB file then has
 * 256 segments, and a capped swarm's end waits for each hop of a segment.
 */
export const LARGE_SEGMENT_BYTES = 2 * 1024 * 1024

/** The segment size `share` uses for a file of `fileBytes` bytes unless told otherwise (see LARGE_SEGMENT_BYTES). */
export function defaultSegmentSize (fileBytes: number): number {
  return fileBytes > LARGE_FILE_BYTES ? LARGE_SEGMENT_BYTES : DEFAULT_SEGMENT_BYTES
}

/**
 * Cuts a file on disk into segments and hashes each with SHA-256. Files of at least
 * PARALLEL_HASH_MIN_SEGMENTS segments are hashed on worker threads (see hash-pool.ts: one per core,
 * at most 4, within the address-space limit; each reads 128 KiB at a time), smaller ones, or all
 * where no second thread is to be had, on this thread (one segment at a time); either way memory
 * stays small whatever the file size. `name` is the name registered with the tracker; `segmentSize`
 * defaults to {@link defaultSegmentSize} of the file's size.
 */
export async function hashFile (filePath: string, name: string, segmentSize?: number): Promise<FileMeta> {
  const size = (await stat(filePath)).size
  segmentSize ??= defaultSegmentSize(size)
  const n = countSegments(size, segmentSize)
  let hashes: Buffer | null = null
  if (worthThreads(n)) {
    try {
      const digests = await hashSegmentsInParallel(filePath, size, segmentSize)
      if (digests.whole < n) throw new Error(`${filePath} shrank while it was being hashed`)
      hashes = digests.hashes
    } catch (err) {
      // No thread to be had (none fits, or the system refused one): hash on this one.
      if (!(err instanceof HashWorkerError)) throw err
    }
  }
  hashes ??= await hashSequentially(filePath, size, segmentSize)
  return { name, size, segmentSize, algo: 'sha256', hashes }
}

/** The segment hashes of the first `size` bytes of `filePath`, read and hashed one segment at a time on this thread. */
async function hashSequentially (filePath: string, size: number, segmentSize: number): Promise<Buffer> {
  const fh = await open(filePath, 'r')
  try {
    const n = countSegments(size, segmentSize)
    const hashes = Buffer.alloc(n * HASH_BYTES)
    // A whole segment per read: an asynchronous read costs a trip through libuv's thread pool, which
    // outweighs what smaller, cache-sized reads save (1 GiB: 1.7 s in 1 MiB reads, 2.7 s in 128 KiB ones).
    const buf = Buffer.allocUnsafe(Math.min(segmentSize, Math.max(size, 1)))
    for (let i = 0; i < n; i++) {
      const len = Math.min(segmentSize, size - i * segmentSize)
      let got = 0
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, i * segmentSize + got)
        if (bytesRead === 0) throw new Error(`${filePath} shrank while it was being hashed`)
        got += bytesRead
      }
      createHash('sha256').update(buf.subarray(0, len)).digest().copy(hashes, i * HASH_BYTES)
    }
    return hashes
  } finally {
    await fh.close()
  }
}
