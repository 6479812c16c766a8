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

/** Requests the fake links got; once `draining`, every request (also a later one) is answered at once. */
class Requests {
  readonly asked: Asked[] = []
  private draining = false
  add (a: Asked): void { if (this.draining) a.answer({ kind: 'data', data: Buffer.from('b'), digest: null }); else this.asked.push(a) }
  /** Answers everything asked so far and from now on, so the download can end (and its timers stop). */
  drain (): void {
    this.draining = true
    for (const a of this.asked) a.answer({ kind: 'data', data: Buffer.from('b'), digest: null })
  }

  /** Answers every request asked so far and forgets them; later ones are recorded as before. */
  answerAll (): void {
    for (const a of this.asked.splice(0)) a.answer({ kind: 'data', data: Buffer.from('b'), digest: null })
  }

  list (): string[] { return this.asked.map(a => `${a.source}:${a.index}`).sort() }
}

/**
 * A stand-in for a PeerLink: records requests (answered by the test) and sends `holds` as its have-map;
 * its round trip asks for `extra` requests beyond the base pipeline (see LinkPacing).
 */
function fakeLink (id: number, holds: number[], total: number, requests: Requests, extra = 0): EventEmitter {
  const link = new EventEmitter() as EventEmitter & Record<string, unknown>
  link['closed'] = false
  link['extraRequests'] = (cap: number): number => Math.min(cap, extra)
  link['pacing'] = { roundTripMs: extra > 0 ? 50 : 0.1, serviceMs: 1 }
  link['request'] = async (_file: string, index: number): Promise<ChunkResult> => await new Promise(resolve => { requests.add({ source: id, index, answer: resolve }) })
  link['subscribe'] = (file: string): void => {
    const bits = new Bitfield(total)
    for (const i of holds) bits.set(i)
    setImmediate(() => link.emit('have-map', file, total, Buffer.from(bits.bytes)))
  }
  return link
}

describe('Downloader endgame', () => {
  it('does not ask again for a segment another source already gave while an older request for it is out', { timeout: 10_000 }, async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-endgame-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    const meta = classicMeta('f', ['a'.repeat(32), 'b'.repeat(32)])
    // Seed 1 and peer 2 hold both segments, peer 3 only segment 0.
    const holds = new Map([[1, [0, 1]], [2, [0, 1]], [3, [0]]])
    const requests = new Requests()
    const tracker: TrackerApi = { swarm: async (_file, withMeta) => ({ meta: withMeta ? meta : null, members: [member(1, true), member(2, false), member(3, false)] }), fileDone: () => {} }
    const pool = { get: async (id: number) => fakeLink(id, holds.get(id) as number[], 2, requests) } as unknown as PeerPool
    const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
    // A fixed "random": sources are dialled in id order and segment ties broken alike, so the order of
    // the requests below is always the same.
    const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, perSourceLimit: 1, random: () => 0.5 })
    const done = d.download('f')
    try {
      await settle()
      // One request per source: the seed (whose segments are known first) takes segment 0, peer 2 then
      // takes segment 1, and the endgame asks peer 3, which holds only segment 0, for it a second time.
      assert.deepEqual(requests.list(), ['1:0', '2:1', '3:0'])
      // Peer 3 answers first: segment 0 is ours, while the seed's request for it is still out.
      ;(requests.asked.find(a => a.source === 3) as Asked).answer({ kind: 'data', data: Buffer.from('a'), digest: null })
      await settle()
      // Peer 3 is free again, but all it holds is segment 0, which we have: nothing more to ask of it.
      assert.deepEqual(requests.list(), ['1:0', '2:1', '3:0'])
    } finally {
      requests.drain()
      await done
    }
  })
})

describe('Downloader request spreading', () => {
  /**
   * A download of 12 segments from a seed (1) and peers 2-4, which hold all of them unless `empty`
   * (then they hold none). Runs `check` on the requests after the first passes, then lets it finish.
   */
  async function spreading (t: { after: (fn: () => Promise<void>) => void }, requestsPerFile: number | undefined, empty: boolean, check: (requests: Requests) => Promise<void>, extra: (id: number) => number = () => 0): Promise<void> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-spread-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    const meta = classicMeta('f', Array.from({ length: 12 }, (_, i) => String.fromCharCode(97 + i).repeat(32)))
    const all = Array.from({ length: 12 }, (_, i) => i)
    const requests = new Requests()
    const tracker: TrackerApi = { swarm: async (_file, withMeta) => ({ meta: withMeta ? meta : null, members: [member(1, true), member(2, false), member(3, false), member(4, false)] }), fileDone: () => {} }
    const pool = { get: async (id: number) => fakeLink(id, id === 1 || !empty ? all : [], 12, requests, extra(id)) } as unknown as PeerPool
    const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
    const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, perSourceLimit: 2, ...(requestsPerFile !== undefined ? { requestsPerFile } : {}), random: () => 0.5 })
    const done = d.download('f')
    try {
      await settle()
      await check(requests)
    } finally {
      requests.drain()
      await done
    }
  }
  const perSource = (r: Requests): number[] => [1, 2, 3, 4].map(id => r.asked.filter(a => a.source === id).length)

  it('keeps perSourceLimit in flight at every source by default', { timeout: 10_000 }, async t => {
    await spreading(t, undefined, false, async requests => {
      assert.deepEqual(perSource(requests), [2, 2, 2, 2])
    })
  })

  it('with requestsPerFile, asks each of many sources for fewer at a time', { timeout: 10_000 }, async t => {
    await spreading(t, 4, false, async requests => {
      // 4 sources for 4 requests: one each, once every source is known.
      const first = perSource(requests)
      assert.ok(first.every(n => n >= 1 && n <= 2), `per source ${first.join(',')}`)
      // Once the first answers come back, each source has one request out, no more.
      requests.answerAll()
      await settle()
      assert.deepEqual(perSource(requests), [1, 1, 1, 1])
    })
  })

  it('asks a source whose round trip needs it for more requests', { timeout: 10_000 }, async t => {
    // Four sources for four requests: one each (the seed, known first, got 2 before the others were),
    // but the link to peer 3 is long and asks for 3 more.
    await spreading(t, 4, false, async requests => {
      assert.deepEqual(perSource(requests), [2, 1, 4, 1])
    }, id => id === 3 ? 3 : 0)
  })

  it('does not count sources that hold nothing', { timeout: 10_000 }, async t => {
    // Peers 2-4 joined with nothing: the seed is the one source, so it keeps perSourceLimit in flight.
    await spreading(t, 4, true, async requests => {
      assert.deepEqual(perSource(requests), [2, 0, 0, 0])
      requests.answerAll()
      await settle()
      assert.deepEqual(perSource(requests), [2, 0, 0, 0])
    })
  })
})
