import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import { Bitfield } from '../../src/storage/bitfield.ts'
import type { Member } from '../../src/protocol/messages.ts'
import { Downloader, type TrackerApi } from '../../src/peer/downloader.ts'
import type { PeerPool } from '../../src/peer/peer-pool.ts'
import { ClassicStore, classicMeta } from '../../src/storage/classic-store.ts'

const member = (id: number, seed: boolean): Member => ({ id, host: '127.0.0.1', port: 1000 + id, uploads: 0, seed })
/** Lets the callbacks of a fired timer (tracker answer, swarm merge) run; setImmediate is not mocked. */
const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve)) }

describe('Downloader: a swarm with room for more sources', () => {
  it('is asked again on a timer (sooner after someone new appeared) until it is full, and no more', async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-growth-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const meta = classicMeta('f', ['a'.repeat(32), 'b'.repeat(32)])
    // What the tracker answers to the 1st, 2nd... swarm request (the last one repeats).
    const answers = [[member(1, true)], [member(1, true)], [member(1, true), member(2, false)], [member(1, true), member(2, false), member(3, false)]]
    let calls = 0
    const tracker: TrackerApi = {
      swarm: async (_file, withMeta) => ({ meta: withMeta ? meta : null, members: answers[Math.min(calls++, answers.length - 1)] as Member[] }),
      fileDone: () => {}
    }
    // Connections never complete: nothing is downloaded, so only the timer can bring a new request.
    const dialled: number[] = []
    const pool = { get: async (id: number) => { dialled.push(id); return await new Promise(() => {}) } } as unknown as PeerPool
    const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
    const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, maxSourcesPerFile: 2 })
    d.download('f').catch(() => {})
    await settle()
    assert.equal(calls, 1)
    // The first answer brought the seed: asked again after 200 ms.
    t.mock.timers.tick(199); await settle()
    assert.equal(calls, 1)
    t.mock.timers.tick(1); await settle()
    assert.equal(calls, 2)
    // Nobody new: the wait doubles.
    t.mock.timers.tick(399); await settle()
    assert.equal(calls, 2)
    t.mock.timers.tick(1); await settle()
    assert.equal(calls, 3)
    assert.deepEqual(dialled, [1, 2])
    // Peer 2 was new: 200 ms again; that answer fills the two peer places, so the timer stops.
    t.mock.timers.tick(200); await settle()
    assert.equal(calls, 4)
    assert.deepEqual(dialled, [1, 2, 3])
    t.mock.timers.tick(60_000); await settle()
    assert.equal(calls, 4)
  })
})

describe('Downloader: files waiting for a request slot', () => {
  it('are neither stalled nor asked about again while other files use every slot', async t => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-turn-'))
    t.after(async () => { await rm(dir, { recursive: true, force: true }) })
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const names = ['f', 'g', 'h']
    const metas = new Map(names.map(n => [n, classicMeta(n, [n.repeat(32)])]))
    const calls = new Map<string, number>()
    const tracker: TrackerApi = {
      swarm: async (file, withMeta) => {
        calls.set(file, (calls.get(file) ?? 0) + 1)
        return { meta: withMeta ? metas.get(file) ?? null : null, members: [member(1, true)] }
      },
      fileDone: () => {}
    }
    // One seed that holds everything and never answers: the first request keeps the only slot.
    const asked: string[] = []
    const link = new EventEmitter() as EventEmitter & Record<string, unknown>
    link['closed'] = false
    link['extraRequests'] = (): number => 0
    link['pacing'] = { roundTripMs: 0.1, serviceMs: 1 }
    link['request'] = async (file: string, index: number): Promise<never> => { asked.push(`${file}:${index}`); return await new Promise(() => {}) }
    link['subscribe'] = (file: string): void => { setImmediate(() => link.emit('have-map', file, 1, Buffer.from(Bitfield.full(1).bytes))) }
    const pool = { get: async () => link } as unknown as PeerPool
    const store = new ClassicStore(9, dir, { owned: [], wants: [], wantLines: [] })
    const d = new Downloader({ tracker, store, pool, announce: () => {}, selfId: () => 9 }, { verify: () => true, maxInFlight: 1, maxSourcesPerFile: 4 })
    for (const n of names) d.download(n).catch(() => {})
    await settle()
    assert.equal(asked.length, 1, 'one slot: one request')
    const waiting = names.filter(n => !asked[0]?.startsWith(`${n}:`))
    for (let i = 0; i < 60; i++) { t.mock.timers.tick(1000); await settle() }
    for (const n of waiting) assert.equal(calls.get(n), 1, `${n} waits for its turn: asked about once, not as a stalled or growing swarm`)
    assert.ok((calls.get(asked[0]?.split(':')[0] as string) ?? 0) > 1, 'the file with a request out still watches its swarm grow')
  })
})
