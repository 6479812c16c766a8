import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { FileMeta } from '../../src/protocol/messages.ts'
import { verifySegment } from '../../src/storage/verify.ts'

const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

/** A real file of two segments (4 KiB and 1 KiB) with their SHA-256 hashes. */
function realFile (): { meta: FileMeta, segs: Buffer[] } {
  const segs = [randomBytes(4096), randomBytes(1024)]
  return { meta: { name: 'f', size: 5120, segmentSize: 4096, algo: 'sha256', hashes: Buffer.concat(segs.map(sha)) }, segs }
}

describe('verifySegment', () => {
  it('hashes the data when no digest is given', () => {
    const { meta, segs } = realFile()
    assert.equal(verifySegment(meta, 0, segs[0] as Buffer), true)
    assert.equal(verifySegment(meta, 1, segs[1] as Buffer), true)
    const bad = Buffer.from(segs[0] as Buffer)
    bad[100] = (bad[100] as number) ^ 1
    assert.equal(verifySegment(meta, 0, bad), false)
  })

  it('takes the digest computed on arrival instead of hashing again', () => {
    const { meta, segs } = realFile()
    const data = segs[0] as Buffer
    assert.equal(verifySegment(meta, 0, data, sha(data)), true)
    // The digest decides: data that matches with a digest that does not is refused (and the reverse
    // would be accepted, which is why only the decoder that saw the bytes computes it).
    assert.equal(verifySegment(meta, 0, data, sha(Buffer.from('other'))), false)
  })

  it('refuses a wrong length whatever the digest says', () => {
    const { meta, segs } = realFile()
    const short = (segs[0] as Buffer).subarray(0, 4095)
    assert.equal(verifySegment(meta, 0, short, meta.hashes.subarray(0, 32)), false)
  })
})
