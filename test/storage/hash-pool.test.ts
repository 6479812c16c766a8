import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MAX_HASH_THREADS, PARALLEL_HASH_MIN_SEGMENTS, affordableThreads, defaultHashThreads, hashSegmentsInParallel, hashThreadsStarted, worthThreads } from '../../src/storage/hash-pool.ts'
import { hashFile } from '../../src/storage/hasher.ts'

let dir = ''
before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'dfss-hashpool-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** SHA-256 of each `segmentSize` piece of `bytes`, on this thread. */
function expected (bytes: Buffer, segmentSize: number): Buffer[] {
  const out: Buffer[] = []
  for (let off = 0; off < bytes.length; off += segmentSize) out.push(createHash('sha256').update(bytes.subarray(off, off + segmentSize)).digest())
  return out
}

async function randomFile (name: string, size: number): Promise<{ file: string, bytes: Buffer }> {
  const bytes = randomBytes(size)
  const file = path.join(dir, name)
  await writeFile(file, bytes)
  return { file, bytes }
}

describe('hashSegmentsInParallel', () => {
  it('gives every segment its SHA-256, the short last one too, on 1, 2 and 3 threads', async () => {
    const seg = 16 * 1024
    const { file, bytes } = await randomFile('odd.bin', 37 * seg + 1234)
    for (const threads of [1, 2, 3]) {
      const got = await hashSegmentsInParallel(file, bytes.length, seg, { threads })
      assert.equal(got.whole, 38)
      assert.deepEqual(got.hashes, Buffer.concat(expected(bytes, seg)), `${threads} threads`)
    }
  })

  it('counts only the segments read in full when the file is shorter than the size asked for', async () => {
    const seg = 4096
    const { file, bytes } = await randomFile('short.bin', 30 * seg + 100)
    const got = await hashSegmentsInParallel(file, 50 * seg, seg, { threads: 2 })
    // Segment 30 exists only in part, 31..49 not at all.
    assert.equal(got.whole, 30)
    assert.deepEqual(got.hashes.subarray(0, 30 * 32), Buffer.concat(expected(bytes, seg).slice(0, 30)))
    assert.deepEqual(got.hashes.subarray(30 * 32), Buffer.alloc(20 * 32))
  })

  it('rejects with the system error when the file cannot be read', async () => {
    await assert.rejects(hashSegmentsInParallel(path.join(dir, 'nothing-here'), 100_000, 4096, { threads: 2 }), { code: 'ENOENT' })
  })

  it('has nothing to do for an empty file', async () => {
    assert.deepEqual(await hashSegmentsInParallel(path.join(dir, 'not-opened'), 0, 4096), { hashes: Buffer.alloc(0), whole: 0 })
  })

  it('refuses a thread count that is not a positive integer', async () => {
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(hashSegmentsInParallel(path.join(dir, 'x'), 100_000, 4096, { threads }), RangeError)
    }
  })

  it('hashes files asked for at the same time one after the other, each correctly, on threads', async () => {
    const seg = 8192
    const a = await randomFile('a.bin', 40 * seg)
    const b = await randomFile('b.bin', 24 * seg + 1)
    const before = hashThreadsStarted
    const [ha, hb] = await Promise.all([hashSegmentsInParallel(a.file, a.bytes.length, seg, { threads: 2 }), hashSegmentsInParallel(b.file, b.bytes.length, seg, { threads: 2 })])
    assert.deepEqual(ha.hashes, Buffer.concat(expected(a.bytes, seg)))
    assert.deepEqual(hb.hashes, Buffer.concat(expected(b.bytes, seg)))
    assert.equal(hashThreadsStarted - before, 4)
  })

  it('uses threads only for files of enough segments, and at most MAX_HASH_THREADS', () => {
    assert.equal(worthThreads(PARALLEL_HASH_MIN_SEGMENTS - 1), false)
    assert.equal(defaultHashThreads(1), 1)
    assert.ok(defaultHashThreads(1_000_000) <= MAX_HASH_THREADS)
    if (availableParallelism() > 1 && affordableThreads() > 1) assert.equal(worthThreads(PARALLEL_HASH_MIN_SEGMENTS), true)
  })
})

describe('affordableThreads', () => {
  const limits = (soft: string): string => `Limit                     Soft Limit           Hard Limit           Units     \nMax data size             unlimited            unlimited            bytes     \nMax address space         ${soft.padEnd(20)} unlimited            bytes     \n`
  const status = (vmKiB: number): string => `Name:\tnode\nVmPeak:\t  999999 kB\nVmSize:\t ${vmKiB} kB\nVmRSS:\t   50000 kB\n`
  const GiB = 1024 ** 3

  it('puts no bound on threads without an address-space limit, or without /proc', () => {
    assert.equal(affordableThreads(limits('unlimited'), status(700 * 1024)), Number.MAX_SAFE_INTEGER)
    assert.equal(affordableThreads(null, null), Number.MAX_SAFE_INTEGER)
  })

  it('counts the threads of 1 GiB that fit between the address space in use and the limit', () => {
    assert.equal(affordableThreads(limits(String(3 * GiB)), status(700 * 1024)), 2)
    assert.equal(affordableThreads(limits(String(16 * GiB)), status(1024 * 1024)), 15)
    assert.equal(affordableThreads(limits(String(1.5 * GiB)), status(700 * 1024)), 0)
    // Over the limit already, or no VmSize to go by: none.
    assert.equal(affordableThreads(limits(String(GiB)), status(2 * 1024 * 1024)), 0)
    assert.equal(affordableThreads(limits(String(8 * GiB)), 'Name:\tnode\n'), 0)
  })
})

describe('hashFile', () => {
  it('gives the same hashes on threads as one at a time', async () => {
    const seg = 8192
    const { file, bytes } = await randomFile('big.bin', (PARALLEL_HASH_MIN_SEGMENTS * 3) * seg + 77)
    const meta = await hashFile(file, 'big.bin', seg)
    assert.equal(meta.size, bytes.length)
    assert.deepEqual(meta.hashes, Buffer.concat(expected(bytes, seg)))
  })
})
