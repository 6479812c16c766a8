import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { deriveFileId } from '../../src/protocol/file-id.ts'
import type { FileMeta } from '../../src/protocol/messages.ts'

const meta = (o: Partial<FileMeta> = {}): FileMeta => ({ name: 'a', size: 64, segmentSize: 32, algo: 'sha256', hashes: Buffer.alloc(64, 7), ...o })

describe('deriveFileId', () => {
  it('depends on size, segment size, algorithm and hashes, not on the name', () => {
    const base = deriveFileId(meta())
    assert.match(base, /^[0-9a-f]{64}$/)
    assert.equal(deriveFileId(meta({ name: 'other/name' })), base)
    for (const m of [meta({ size: 63 }), meta({ segmentSize: 33 }), meta({ algo: 'classic' }), meta({ hashes: Buffer.alloc(64, 8) })]) {
      assert.notEqual(deriveFileId(m), base)
    }
  })
})
