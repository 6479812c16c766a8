import { createHash } from '../util/crypto.ts'
import { HASH_BYTES, type FileMeta } from '../protocol/messages.ts'

/** The expected hash of segment `index` (a view into meta.hashes). */
export function segmentHash (meta: FileMeta, index: number): Buffer {
  return meta.hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES)
}

/** Expected byte length of segment `index`. */
export function segmentLength (meta: FileMeta, index: number): number {
  const start = index * meta.segmentSize
  return Math.min(meta.segmentSize, meta.size - start)
}

/**
 * True when `data` is segment `index` of the file: classic, the content is the hash text; real, its
 * SHA-256 matches. `digest`, when given, is the SHA-256 of `data` already computed (as it arrived from
 * the network) and is used instead of hashing it again.
 */
export function verifySegment (meta: FileMeta, index: number, data: Buffer, digest: Buffer | null = null): boolean {
  if (data.length !== segmentLength(meta, index)) return false
  if (meta.algo === 'classic') return data.equals(segmentHash(meta, index))
  return digestMatches(meta, index, digest ?? createHash('sha256').update(data).digest())
}

/** True when `digest` (SHA-256 of segmentLength(meta, index) bytes) is segment `index`'s hash. */
export function digestMatches (meta: FileMeta, index: number, digest: Uint8Array): boolean {
  return segmentHash(meta, index).equals(digest)
}
