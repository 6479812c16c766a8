import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { Bitfield } from '../../src/storage/bitfield.ts'
import type { Member } from '../../src/protocol/messages.ts'
import { Downloader, type TrackerApi } from '../../src/peer/downloader.ts'
import type { ChunkResult } from '../../src/peer/peer-link.ts'
import type { PeerPool } from '../../src/peer/peer-pool.ts'
import { ClassicStore, classicMeta } from '../../src/storage/classic-store.ts'

const member = (id: number, seed: boolean): Member => ({ id, host: '127.0.0.1', port: 1000 + id, uploads: 0, seed })
/** Lets promise callbacks and the downloader's setImmediate passes run. */
const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve)) }

interface Asked { source: number, index: number, answer: (r: ChunkResult) => void }

/** A stand-in for a PeerLink: records requests (answered by the test) and sends `holds` as its have-map. */
function fakeLink (id: number, holds: number[], total: number, asked: Asked[]): EventEmitter {
  const link = new EventEmitter() as EventEmitter & Record<string, unknown>
  link['closed'] = false
  link['request'] = async (_file: string, index: number): Promise<ChunkResult> => await new Promise(resolve => { asked.push({ source: id, index, answer: resolve }) })
  link['subscribe'] = (file: string): void => {
    const bits = new Bitfield(total)
    for (const i of holds) bits.set(i)
    setImmediate(() => link.emit('have-map', file, total, Buffer.from(bits.bytes)))
  }
  return link
}

describe('Downloader endgame', () => {
  it('does not ask again for a segment another source already gave while an older request for it is out', async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-endgame-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    const meta = classicMeta('f', ['a'.repeat(32), 'b'.repeat(32)])
    // Seed 1 and peer 2 hold both segments, peer 3 only segment 0.
    const holds = new Map([[1, [0, 1]], [2, [0, 1]], [3, [0]]])
    const asked: Asked[] = []
    const tracker: TrackerApi = { swarm: async (_file, withMeta) => ({ meta: withMeta ? meta : null, members: [member(1, true), member(2, false), member(3, false)] }), fileDone: () => {} }
    const pool = { get: async (id: number) => fakeLink(id, holds.get(id) as number[], 2, asked) } as unknown as PeerPool
    const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
    const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, perSourceLimit: 1 })
    const done = d.download('f')
    const list = (): string[] => asked.map(a => `${a.source}:${a.index}`).sort()
    try {
      await settle()
      // One request per source: the seed and peer 2 split the two segments, and the endgame asks peer 3,
      // which holds only segment 0, for it a second time.
      assert.equal(asked.length, 3, list().join(' '))
      assert.deepEqual(asked.map(a => a.source).sort(), [1, 2, 3])
      assert.ok(list().includes('3:0'), list().join(' '))
      // Peer 3 answers first: segment 0 is ours, while the other request for it is still out.
      ;(asked.find(a => a.source === 3) as Asked).answer({ kind: 'data', data: Buffer.from('a') })
      await settle()
      // Peer 3 is free again, but all it holds is segment 0, which we have: nothing more to ask of it.
      assert.equal(asked.length, 3, list().join(' '))
    } finally {
      // Everything answers: the download completes and its timers stop.
      for (const a of asked) a.answer({ kind: 'data', data: Buffer.from('b') })
    }
    await done
  })
})
