import { createHash } from '../util/crypto.ts'
import type { FileMeta } from './messages.ts'

/**
 * A file's id: SHA-256 over its size, segment size, hash algorithm and segment hashes (not its name).
 * Every side derives it from the metadata it already has, so it never needs to travel on its own;
 * two registrations under one name are the same file exactly when their ids match.
 */
export function deriveFileId (meta: FileMeta): string {
  const head = Buffer.alloc(13)
  head.writeBigUInt64BE(BigInt(meta.size), 0)
  head.writeUInt32BE(meta.segmentSize, 8)
  head.writeUInt8(meta.algo === 'sha256' ? 1 : 0, 12)
  return createHash('sha256').update(head).update(meta.hashes).digest('hex')
}
