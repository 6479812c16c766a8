import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferPool } from '../../src/util/buffer-pool.ts'
import { PAGE_ALIGN, addressSpaceUnlimited, isAlignedMemory, isPageAligned } from '../../src/util/aligned-memory.ts'
import { addressSpaceLimit } from '../../src/util/proc-limits.ts'

describe('BufferPool', () => {
  it('reuses a buffer once its only holder gives it back', () => {
    const pool = new BufferPool(4, 1024)
    const a = pool.take(4096)
    pool.give(a)
    const b = pool.take(4096)
    assert.equal(b.buffer, a.buffer)
  })

  it('keeps a retained buffer out of the pool until every holder gave it back', () => {
    const pool = new BufferPool(4, 1024)
    const a = pool.take(4096)
    pool.retain(a)
    pool.retain(a.subarray(10, 20))
    assert.equal(pool.holders(a), 3)
    pool.give(a)
    pool.give(a)
    assert.notEqual(pool.take(4096).buffer, a.buffer, 'still held once: must not be handed out')
    pool.give(a.subarray(0, 1))
    assert.equal(pool.holders(a), 0)
    assert.equal(pool.take(4096).buffer, a.buffer)
  })

  it('ignores a second give and buffers it never handed out', () => {
    const pool = new BufferPool(4, 1024)
    const a = pool.take(4096)
    pool.give(a)
    pool.give(a)
    const b = pool.take(4096)
    const c = pool.take(4096)
    assert.notEqual(b.buffer, c.buffer, 'a double give must not put one buffer in the pool twice')
    pool.give(b)
    pool.give(c)
    const foreign = Buffer.alloc(4096)
    pool.retain(foreign)
    pool.give(foreign)
    const taken = [pool.take(4096), pool.take(4096), pool.take(4096)].map(x => x.buffer)
    assert.ok(!taken.includes(foreign.buffer), 'a buffer the pool never handed out does not enter it')
  })

  it('refuses to retain a buffer that is back in the pool', () => {
    const pool = new BufferPool(4, 1024)
    const a = pool.take(4096)
    pool.give(a)
    assert.throws(() => { pool.retain(a) }, /already given back/)
  })

  it('keeps at most maxBuffers idle', () => {
    const pool = new BufferPool(1, 1024)
    const a = pool.take(2048)
    const b = pool.take(2048)
    pool.give(a)
    pool.give(b)
    assert.equal(pool.take(2048).buffer, a.buffer)
    assert.notEqual(pool.take(2048).buffer, b.buffer)
  })

  it('keeps at most maxIdleBytes idle in all', () => {
    const pool = new BufferPool(16, 1024, 5000)
    const a = pool.take(2048)
    const b = pool.take(2048)
    const c = pool.take(2048)
    pool.give(a)
    pool.give(b)
    pool.give(c) // 6144 bytes would be past 5000: dropped
    const again = [pool.take(2048), pool.take(2048), pool.take(2048)].map(x => x.buffer)
    assert.ok(again.includes(a.buffer) && again.includes(b.buffer))
    assert.ok(!again.includes(c.buffer))
  })

  it('takeAligned puts byte `at` on a page boundary, reuses aligned buffers for aligned takes only', t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit: takeAligned falls back to take'); return }
    const pool = new BufferPool(4, 1024)
    for (const at of [0, 9, 4096, 5000]) {
      const b = pool.takeAligned(1 << 20, at)
      assert.equal(b.length, 1 << 20)
      assert.ok(isPageAligned(b.subarray(at)), `byte ${at} aligned`)
      pool.give(b)
    }
    const a = pool.takeAligned(100_000, 9)
    pool.give(a)
    assert.ok(isAlignedMemory(a.buffer))
    assert.notEqual(pool.take(a.buffer.byteLength).buffer, a.buffer, 'take() never hands out aligned memory')
    const again = pool.takeAligned(100_000, 9)
    assert.equal(again.buffer, a.buffer, 'an idle aligned buffer of the right size is reused')
    assert.ok(!isAlignedMemory(pool.takeAligned(100, 9).buffer), 'below minBytes: a plain buffer')
    assert.equal(PAGE_ALIGN, 4096)
  })

  it('addressSpaceLimit reads RLIMIT_AS from /proc/self/limits', () => {
    const head = 'Limit                     Soft Limit           Hard Limit           Units     \n'
    assert.equal(addressSpaceLimit(head + 'Max address space         unlimited            unlimited            bytes     \n'), null)
    assert.equal(addressSpaceLimit(head + 'Max address space         4294967296           unlimited            bytes     \n'), 4294967296)
    assert.equal(addressSpaceLimit(null), null)
  })
})
