import assert from 'node:assert/strict'
import type { FileHandle } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { FileHandles, type HandleMode } from '../../src/storage/file-handles.ts'

/** An opener of fake handles that records every open and close ("mode path"). */
function fakeOpener (failing: Set<string> = new Set()): { open: (p: string, m: HandleMode | 'create') => Promise<FileHandle>, opened: string[], closed: string[], openNow: () => number } {
  const opened: string[] = []
  const closed: string[] = []
  return {
    opened,
    closed,
    openNow: () => opened.length - closed.length,
    open: async (p, m) => {
      if (failing.has(p)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT', syscall: 'open' })
      const name = `${m} ${p}`
      opened.push(name)
      return { name, close: async () => { closed.push(name) } } as unknown as FileHandle
    }
  }
}

const nothing = async (): Promise<void> => {}

describe('FileHandles', () => {
  it('opens a file once per mode and keeps it open for the next use', async () => {
    const f = fakeOpener()
    const h = new FileHandles(4, f.open)
    await h.use('a', 'r+', nothing)
    await h.use('a', 'r+', nothing)
    await h.use('a', 'direct', nothing)
    assert.deepEqual(f.opened, ['r+ a', 'direct a'])
    assert.equal(h.size, 2)
    await h.closeAll()
    assert.deepEqual(f.closed.sort(), ['direct a', 'r+ a'])
    assert.equal(h.size, 0)
  })

  it('keeps at most `max` idle files open, closing the least recently used', async () => {
    const f = fakeOpener()
    const h = new FileHandles(2, f.open)
    for (const p of ['a', 'b', 'a', 'c', 'a', 'd']) await h.use(p, 'r', nothing)
    assert.ok(f.openNow() <= 2)
    assert.deepEqual(f.closed, ['r b', 'r c'], 'b, then c (a was used again)')
    assert.equal(h.size, 2)
    await h.use('a', 'r', nothing)
    assert.equal(f.opened.filter(x => x === 'r a').length, 1, 'a stayed open throughout')
  })

  it('never closes a file while it is in use, and closes it once that use ends', async () => {
    const f = fakeOpener()
    const h = new FileHandles(2, f.open)
    let release!: () => void
    const held = h.use('a', 'r', async () => { await new Promise<void>(resolve => { release = resolve }) })
    await h.use('b', 'r', nothing)
    await h.use('c', 'r', nothing)
    assert.ok(!f.closed.includes('r a'), 'a is in use')
    assert.deepEqual(f.closed, ['r b'], 'b made room for c')
    h.forget('a')
    assert.ok(!f.closed.includes('r a'), 'forgotten, but still in use')
    release()
    await held
    await h.closeAll()
    assert.deepEqual(f.closed.sort(), ['r a', 'r b', 'r c'])
  })

  it('shares one open between concurrent uses, and leaves nothing behind when an open fails', async () => {
    const failing = new Set(['gone'])
    const f = fakeOpener(failing)
    const h = new FileHandles(4, f.open)
    const seen = await Promise.all([1, 2, 3].map(async () => await h.use('a', 'r', async fh => (fh as unknown as { name: string }).name)))
    assert.deepEqual(seen, ['r a', 'r a', 'r a'])
    assert.deepEqual(f.opened, ['r a'])
    await assert.rejects(h.use('gone', 'r', nothing), /ENOENT/)
    assert.equal(h.size, 1)
    failing.clear()
    await h.use('gone', 'r', nothing)
    assert.deepEqual(f.opened, ['r a', 'r gone'], 'opened again on the next use')
  })

  it('makes a use wait for room while `max` files are in use, and creates a file when asked', async () => {
    const f = fakeOpener()
    const h = new FileHandles(1, f.open)
    let release!: () => void
    const held = h.use('a', 'r', async () => { await new Promise<void>(resolve => { release = resolve }) })
    let bDone = false
    const b = h.use('b', 'r+', async () => { bDone = true }, { create: true })
    await h.use('a', 'r', nothing) // the open one can still be used meanwhile
    assert.equal(bDone, false)
    assert.deepEqual(f.opened, ['r a'], 'b waits: a is in use and the limit is 1')
    release()
    await held
    await b
    assert.equal(bDone, true)
    assert.deepEqual(f.opened, ['r a', 'create b'])
    assert.deepEqual(f.closed, ['r a'], 'a was closed to make room')
    await h.use('b', 'r+', nothing, { create: true })
    assert.deepEqual(f.opened, ['r a', 'create b'], 'an open file is not created again')
  })

  it('rejects a limit below 1', () => {
    assert.throws(() => new FileHandles(0), RangeError)
  })
})
