import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FileMeta } from '../../src/protocol/messages.ts'
import { TrackerLink } from '../../src/peer/tracker-link.ts'
import { Tracker } from '../../src/tracker/server.ts'

const MiB = 1024 * 1024

/** Metadata of a file of `segments` 1 MiB segments (the hashes' content does not matter here). */
function metaOf (name: string, segments: number): FileMeta {
  return { name, size: segments * MiB, segmentSize: MiB, algo: 'sha256', hashes: Buffer.alloc(32 * segments, 1) }
}

describe('TrackerLink.register: registrations larger than a message (127.0.0.1, real sockets)', () => {
  it('refuses at once with a clear reason, sends nothing, and the link still registers what fits', { timeout: 10_000 }, async t => {
    const tracker = new Tracker({ secret: null })
    const { host, port } = await tracker.listen('127.0.0.1', 0)
    t.after(async () => { await tracker.close() })
    const link = await TrackerLink.connect(host, port, { id: 0, secret: null, uploads: () => 0 })
    t.after(async () => { await link.close() })
    // 600,000 segments: 19.2 MB of hashes, past the 16 MiB + 64 KiB a frame may carry.
    await assert.rejects(link.register('127.0.0.1', 4001, [metaOf('huge.bin', 300_000), metaOf('huge2.bin', 300_000)], []),
      /cannot register 2 files of 600000 segments in all: the registration would be 18\.3 MiB, and a message carries at most 16\.1 MiB .*larger --segment-size/)
    const id = await link.register('127.0.0.1', 4001, [metaOf('big.bin', 500_000)], [])
    assert.ok(id > 0, 'a registration just under the limit is taken, on the same connection')
  })
})
