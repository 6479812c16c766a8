import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import type { Member } from '../../src/protocol/messages.ts'
import { Downloader, type TrackerApi } from '../../src/peer/downloader.ts'
import type { ChunkResult } from '../../src/peer/peer-link.ts'
import type { PeerPool } from '../../src/peer/peer-pool.ts'
import { Bitfield } from '../../src/storage/bitfield.ts'
import { CLASSIC_SEGMENT_BYTES, ClassicStore, classicMeta } from '../../src/storage/classic-store.ts'

const SEGMENTS = 10
/** Lets the callbacks of settled promises and setImmediate (HAVE-MAP, scheduling passes) run. */
const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve)) }

/**
 * One seed holding every segment of a 10-segment file, which answers only when the test says so;
 * `answer()` completes the oldest request still out.
 */
async function start (maxInFlightBytes: number, minInFlight?: number): Promise<{ asked: number[], answer: () => void, dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-inflight-'))
  const meta = classicMeta('f', Array.from({ length: SEGMENTS }, (_, i) => String(i % 10).repeat(32)))
  const seed: Member = { id: 1, host: '127.0.0.1', port: 1001, uploads: 0, seed: true }
  const tracker: TrackerApi = { swarm: async (_file, withMeta) => ({ meta: withMeta ? meta : null, members: [seed] }), fileDone: () => {} }
  const asked: number[] = []
  const waiting: Array<(r: ChunkResult) => void> = []
  const link = new EventEmitter() as EventEmitter & Record<string, unknown>
  link['closed'] = false
  link['extraRequests'] = (): number => 0
  link['pacing'] = { roundTripMs: 0.1, serviceMs: 1 }
  link['request'] = async (_file: string, index: number): Promise<ChunkResult> => {
    asked.push(index)
    return await new Promise(resolve => waiting.push(resolve))
  }
  link['subscribe'] = (file: string): void => { setImmediate(() => link.emit('have-map', file, SEGMENTS, Buffer.from(Bitfield.full(SEGMENTS).bytes))) }
  const pool = { get: async () => link } as unknown as PeerPool
  const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
  // No room for peer sources: no timer asking the tracker for more, which would keep the process alive.
  const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, perSourceLimit: 16, maxInFlight: 16, maxInFlightBytes, maxSourcesPerFile: 0, ...(minInFlight !== undefined ? { minInFlight } : {}) })
  d.download('f').catch(() => {})
  await settle()
  return { asked, dir, answer: () => { waiting.shift()?.({ kind: 'data', data: Buffer.alloc(CLASSIC_SEGMENT_BYTES, 1), digest: null }) } }
}

describe('Downloader: bytes in flight', () => {
  it('makes no request at or past maxInFlightBytes, and another once one is answered', async t => {
    t.mock.timers.enable({ apis: ['setTimeout'] }) // no stall checks asking the tracker again meanwhile
    const s = await start(3 * CLASSIC_SEGMENT_BYTES)
    t.after(async () => { await rm(s.dir, { recursive: true, force: true }) })
    assert.equal(s.asked.length, 3, 'three segments fill the budget, though sixteen requests would be allowed')
    s.answer()
    await settle()
    assert.equal(s.asked.length, 4, 'an answered request frees its bytes')
  })

  it('always allows one request when none is in flight, even for a segment larger than the budget', async t => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const s = await start(1)
    t.after(async () => { await rm(s.dir, { recursive: true, force: true }) })
    assert.equal(s.asked.length, 1)
    s.answer()
    await settle()
    assert.equal(s.asked.length, 2)
  })

  it('allows minInFlight requests whatever their bytes, and no more past the budget', async t => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const s = await start(1, 3)
    t.after(async () => { await rm(s.dir, { recursive: true, force: true }) })
    assert.equal(s.asked.length, 3)
    s.answer()
    await settle()
    assert.equal(s.asked.length, 4, 'one answered: back to two out, so a third may go')
  })
})
