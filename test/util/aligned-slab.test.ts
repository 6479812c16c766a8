import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { PAGE_ALIGN, addressSpaceUnlimited, isPageAligned } from '../../src/util/aligned-memory.ts'
import { AlignedSlab, slotsPerSlab } from '../../src/util/aligned-slab.ts'
import { BufferPool } from '../../src/util/buffer-pool.ts'

const PAGE64K = 64 * 1024
const SEGMENT_SLOT = 17 * PAGE64K // a 1 MiB segment's CHUNK body with its padding

describe('AlignedSlab', () => {
  it('sizes slabs to about 32 MiB, between 2 and 32 slots', () => {
    assert.equal(slotsPerSlab(SEGMENT_SLOT), 30)
    assert.equal(slotsPerSlab(PAGE64K), 32)
    assert.equal(slotsPerSlab(16 * 1024 * 1024 + PAGE64K), 2)
    assert.throws(() => new AlignedSlab(1000, 4), RangeError)
    assert.throws(() => new AlignedSlab(PAGE64K, 0), RangeError)
  })

  it('hands out every slot once, page-aligned, lowest free first, until the last holder gives it back', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit'); return }
    const slab = new AlignedSlab(2 * PAGE64K, 3)
    assert.deepEqual([slab.take(), slab.take(), slab.take(), slab.take()], [0, 1, 2, -1])
    for (let i = 0; i < 3; i++) {
      assert.equal(slab.offsetOf(i) % PAGE_ALIGN, 0)
      assert.equal(slab.slotAt(slab.offsetOf(i) + 2 * PAGE64K - 1), i)
      assert.ok(isPageAligned(new Uint8Array(slab.buffer, slab.offsetOf(i), 10)))
    }
    assert.ok(slab.retain(1))
    assert.equal(slab.give(1), false, 'one holder left')
    assert.equal(slab.give(2), true)
    assert.equal(slab.give(1), true)
    assert.equal(slab.give(1), false, 'a second give of a free slot is ignored')
    assert.equal(slab.retain(1), false, 'a free slot cannot be retained')
    assert.equal(slab.idle, 2)
    assert.equal(slab.take(), 1, 'the lowest free slot first')
  })

  it('never hands out a held slot (random takes, retains and gives)', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit'); return }
    const slab = new AlignedSlab(PAGE64K, 8)
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('take', 'retain', 'give'), fc.nat(7)), { maxLength: 200 }), ops => {
      const model = new Array<number>(8).fill(0)
      for (let i = 0; i < 8; i++) while (slab.holdersOf(i) > 0) slab.give(i)
      for (const [op, i] of ops) {
        if (op === 'take') {
          const got = slab.take()
          const free = model.flatMap((n, k) => n === 0 ? [k] : [])
          assert.equal(got, free.length === 0 ? -1 : Math.min(...free))
          if (got >= 0) model[got] = 1
        } else if (op === 'retain') {
          assert.equal(slab.retain(i), (model[i] as number) > 0)
          if ((model[i] as number) > 0) model[i] = (model[i] as number) + 1
        } else {
          assert.equal(slab.give(i), model[i] === 1)
          if ((model[i] as number) > 0) model[i] = (model[i] as number) - 1
        }
        assert.equal(slab.idle, model.filter(n => n === 0).length)
      }
    }), { numRuns: 200 })
  })
})

describe('BufferPool aligned slabs', () => {
  it('cuts many aligned buffers from few slabs, each in its own slot, reference-counted per slot', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit: takeAligned falls back to take'); return }
    const pool = new BufferPool(4, 1024)
    const length = 1024 * 1024 + 9
    const bufs = Array.from({ length: 40 }, () => pool.takeAligned(length, 9))
    assert.equal(pool.slabCount(), 2, '30 slots a slab')
    const slots = new Map<ArrayBufferLike, Set<number>>()
    for (const b of bufs) {
      assert.ok(isPageAligned(b.subarray(9)))
      const inSlab = slots.get(b.buffer) ?? new Set<number>()
      inSlab.add(Math.floor(b.byteOffset / SEGMENT_SLOT))
      slots.set(b.buffer, inSlab)
    }
    assert.deepEqual([...slots.values()].map(x => x.size), [30, 10], 'no two buffers of one slab share a slot')
    const [a, b] = bufs as [Buffer, Buffer]
    a.fill(1)
    b.fill(2)
    assert.equal(a[a.length - 1], 1, 'neighbouring slots do not overlap')
    pool.retain(a.subarray(100, 200))
    assert.equal(pool.holders(a), 2)
    pool.give(a)
    assert.equal(pool.holders(a.subarray(9)), 1)
    pool.give(a.subarray(9))
    assert.equal(pool.holders(a), 0)
    assert.throws(() => { pool.retain(a) }, /already given back/)
    pool.give(a) // a second give is ignored
    const again = pool.takeAligned(length, 9)
    assert.equal(again.buffer, a.buffer)
    assert.equal(again.byteOffset, a.byteOffset, 'the freed slot is the one handed out next')
    assert.equal(pool.takeAligned(length, 9).buffer, bufs[30]?.buffer, 'the first slab is full: the second')
  })

  it('lets a wholly free slab go unless it is the only one of its size, and keeps the two freed last in reserve', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit'); return }
    const pool = new BufferPool(4, 1024)
    const take = (pages: number, n: number): Buffer[] => Array.from({ length: n }, () => pool.takeAligned(pages * PAGE64K, 0))
    const big = take(17, 31) // two slabs of 17 pages
    assert.equal(pool.slabCount(), 2)
    for (const b of big.slice(30)) pool.give(b)
    assert.equal(pool.slabCount(), 1, 'the second slab emptied while the first is in use')
    for (const b of big.slice(0, 30)) pool.give(b)
    assert.equal(pool.slabCount(), 1, 'the only slab of its size stays in reserve')
    // Sizes more than twice apart do not share slabs.
    const sizes = [1, 3, 7]
    const held = sizes.map(p => take(p, 1)[0] as Buffer)
    assert.equal(pool.slabCount(), 4)
    for (const b of held) pool.give(b)
    assert.equal(pool.slabCount(), 2, 'at most two wholly free slabs are kept')
    assert.equal(take(7, 1)[0]?.buffer, held[2]?.buffer, 'the slab freed last is kept')
    assert.equal(take(3, 1)[0]?.buffer, held[1]?.buffer)
    assert.equal(pool.slabCount(), 2, 'the 17-page slab, freed first, was let go')
    assert.notEqual(take(17, 1)[0]?.buffer, big[0]?.buffer)
  })

  it('serves a smaller buffer from a slab of slots up to twice its size', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit'); return }
    const pool = new BufferPool(4, 1024)
    const full = pool.takeAligned(16 * PAGE64K, 9)
    const last = pool.takeAligned(9 * PAGE64K, 9) // a file's last, shorter segment: fits a 17-page slot
    assert.equal(last.buffer, full.buffer)
    assert.equal(pool.slabCount(), 1)
    const small = pool.takeAligned(4 * PAGE64K, 9)
    assert.notEqual(small.buffer, full.buffer, 'a slot over twice the size is not used')
    assert.equal(pool.slabCount(), 2)
  })
})
