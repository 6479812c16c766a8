import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { directWriter, openDirect } from '../../src/storage/direct-io.ts'
import { addressSpaceUnlimited } from '../../src/util/aligned-memory.ts'
import { PARALLEL_HASH_MIN_SEGMENTS, hashThreadsStarted, worthThreads } from '../../src/storage/hash-pool.ts'
import { hashFile } from '../../src/storage/hasher.ts'
import { DIRECT_SYNC_EVERY_BYTES, RealStore, WRITE_BEHIND_BYTES } from '../../src/storage/real-store.ts'
import type { DownloadFile } from '../../src/storage/store.ts'
import { segmentLength } from '../../src/storage/verify.ts'
import type { FileMeta } from '../../src/protocol/messages.ts'
import { segmentBuffers } from '../../src/util/buffer-pool.ts'

let dir = ''
before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'dfss-store-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** A random file of `size` bytes cut into `segmentSize` segments, and its bytes. */
async function source (name: string, size: number, segmentSize: number): Promise<{ meta: FileMeta, bytes: Buffer }> {
  const bytes = randomBytes(size)
  const file = path.join(dir, `src-${name}`)
  await writeFile(file, bytes)
  return { meta: await hashFile(file, name, segmentSize), bytes }
}

/** Segment `i` of `bytes` in a buffer from the pool, as the network hands it over. */
function segmentOf (meta: FileMeta, bytes: Buffer, i: number, aligned = false): Buffer {
  // aligned: as Connection.connect receives it, the data on a page boundary (FrameDecoder's alignAt)
  const data = aligned ? segmentBuffers.takeAligned(segmentLength(meta, i), 0) : segmentBuffers.take(segmentLength(meta, i))
  bytes.copy(data, 0, i * meta.segmentSize, i * meta.segmentSize + data.length)
  return data
}

/** Writes every segment in a shuffled order, giving each buffer back as the downloader does. */
async function writeAll (file: DownloadFile, meta: FileMeta, bytes: Buffer, aligned = false): Promise<void> {
  const order = file.missing().sort(() => Math.random() - 0.5)
  for (const i of order) {
    const data = segmentOf(meta, bytes, i, aligned)
    await file.write(i, data)
    segmentBuffers.give(data)
  }
}

/**
 * Downloads a random file of `size` bytes in `segmentSize` segments through a fresh store, checks the
 * published copy byte for byte, and returns the bytes that went through the direct writer meanwhile.
 */
async function roundTrip (name: string, size: number, segmentSize: number, opts: { directIo?: boolean } = {}, aligned = false, count: 'bytes' | 'inPlaceBytes' = 'bytes'): Promise<number> {
  const { meta, bytes } = await source(name, size, segmentSize)
  const before = directWriter[count]
  const store = new RealStore(path.join(dir, `out-${name}`), opts)
  const file = await store.openDownload(meta)
  await writeAll(file, meta, bytes, aligned)
  assert.deepEqual(await readFile(await file.complete()), bytes)
  await store.close()
  return directWriter[count] - before
}

/** Whether the test directory takes O_DIRECT writes. */
async function directSupported (): Promise<boolean> {
  const probe = path.join(dir, 'probe')
  await writeFile(probe, '')
  const fh = await openDirect(probe)
  await fh?.close()
  return fh !== null
}

describe('RealStore downloads', () => {
  it('writes past the page cache where the file system allows, the last short segment buffered', async () => {
    const supported = await directSupported()
    assert.equal(await roundTrip('direct.bin', 40 * 65536 + 1000, 65536), supported ? 40 * 65536 : 0, 'every whole segment went through the direct path')
  })

  it('writes segments that arrived in page-aligned memory from where they are, without a copy', async t => {
    if (!addressSpaceUnlimited()) { t.skip('address-space limit: no aligned segment buffers'); return }
    const supported = await directSupported()
    assert.equal(await roundTrip('in-place.bin', 24 * 65536 + 1000, 65536, {}, true, 'inPlaceBytes'), supported ? 24 * 65536 : 0)
    assert.equal(await roundTrip('copied.bin', 8 * 65536, 65536, {}, false, 'inPlaceBytes'), 0, 'plain buffers go through the aligned slots')
  })

  it('writes through the page cache with directIo: false', async () => {
    assert.equal(await roundTrip('buffered.bin', 10 * 65536, 65536, { directIo: false }), 0)
  })

  it('keeps segment sizes that are not a multiple of 4 KiB on buffered writes', async () => {
    assert.equal(await roundTrip('odd.bin', 7 * 5000 + 3, 5000), 0)
  })

  it('serves a segment from memory as soon as write() resolves, and counts it in the have-map', async () => {
    const { meta, bytes } = await source('behind.bin', 8 * 65536, 65536)
    const store = new RealStore(path.join(dir, 'out-behind'), { recentBytes: 0 })
    const file = await store.openDownload(meta)
    const data = segmentOf(meta, bytes, 5)
    const { written } = await file.write(5, data)
    segmentBuffers.give(data)
    assert.ok(file.has(5))
    assert.equal(((file.haveBits()[0] as number) >> 2) & 1, 1, 'bit 5 (MSB first) is set')
    assert.deepEqual(file.missing(), [0, 1, 2, 3, 4, 6, 7])
    const read = await file.read(5)
    assert.deepEqual(read, bytes.subarray(5 * 65536, 6 * 65536))
    segmentBuffers.give(read)
    await written
    const part = await readFile(path.join(dir, 'out-behind', 'behind.bin.part'))
    assert.deepEqual(part.subarray(5 * 65536, 6 * 65536), bytes.subarray(5 * 65536, 6 * 65536), 'on disk once `written` resolves')
    const again = segmentOf(meta, bytes, 6)
    await file.write(6, again)
    segmentBuffers.give(again)
    await store.close()
    const closed = await readFile(path.join(dir, 'out-behind', 'behind.bin.part'))
    assert.deepEqual(closed.subarray(6 * 65536, 7 * 65536), bytes.subarray(6 * 65536, 7 * 65536), 'close() waited for the write')
  })

  it('holds at most WRITE_BEHIND_BYTES of segments waiting for the disk', async () => {
    const seg = 4 * 1024 * 1024
    const n = 2 * WRITE_BEHIND_BYTES / seg + 2
    const { meta, bytes } = await source('bound.bin', n * seg, seg)
    const store = new RealStore(path.join(dir, 'out-bound'))
    const file = await store.openDownload(meta)
    const pending = (): number => (file as unknown as { pendingWriteBytes: number }).pendingWriteBytes
    let most = 0
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const data = segmentOf(meta, bytes, i)
      await file.write(i, data)
      segmentBuffers.give(data)
      most = Math.max(most, pending())
    }))
    assert.ok(most > 0 && most <= WRITE_BEHIND_BYTES, `at most ${WRITE_BEHIND_BYTES} bytes waited (saw ${most})`)
    assert.deepEqual(await readFile(await file.complete()), bytes)
    assert.equal(pending(), 0)
    await store.close()
  })

  // Bounded: a write that never reaches the gate would otherwise leave nextWrite() waiting.
  it('flushes direct writes in the background every DIRECT_SYNC_EVERY_BYTES, only while no other write waits', { timeout: 60_000 }, async (t: TestContext) => {
    if (!await directSupported()) { t.skip('no O_DIRECT in this file system'); return }
    const seg = 1024 * 1024
    const every = DIRECT_SYNC_EVERY_BYTES / seg
    const n = 3 * every
    const { meta, bytes } = await source('flush.bin', n * seg, seg)
    // Direct writes wait at a gate the test opens one at a time; datasync calls are counted.
    const gates: Array<() => void> = []
    let arrived: (() => void) | null = null
    const write = directWriter.write
    t.mock.method(directWriter, 'write', async (...args: Parameters<typeof write>) => {
      await new Promise<void>(resolve => { gates.push(resolve); arrived?.() })
      await write.apply(directWriter, args)
    })
    const probe = await open(path.join(dir, 'src-flush.bin'))
    const handles = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
    await probe.close()
    const flushes: Array<Promise<void>> = []
    const sync = handles.datasync
    const datasync = t.mock.method(handles, 'datasync', function (this: unknown) {
      const flush = sync.call(this)
      flushes.push(flush.catch(() => {}))
      return flush
    })
    const nextWrite = async (): Promise<() => void> => {
      while (gates.length === 0) await new Promise<void>(resolve => { arrived = resolve })
      arrived = null
      return gates.shift() as () => void
    }
    const store = new RealStore(path.join(dir, 'out-flush'))
    const file = await store.openDownload(meta)
    const put = async (i: number): Promise<{ written: Promise<void> }> => {
      const data = segmentOf(meta, bytes, i)
      const stored = await file.write(i, data)
      segmentBuffers.give(data)
      return stored
    }
    // A disk that lags: a whole flush interval and more is queued at once; while writes wait, none.
    const behind = Array.from({ length: every + 4 }, (_, i) => i)
    const writtenBehind = await Promise.all(behind.slice(0, every).map(put))
    const late = behind.slice(every).map(put) // wait for room in the write-behind queue
    for (let k = 0; k < behind.length - 2; k++) (await nextWrite())()
    assert.equal(datasync.mock.callCount(), 0, `${behind.length - 2} writes done, others still waiting: no flush`)
    ;(await nextWrite())()
    ;(await nextWrite())()
    await Promise.all([...writtenBehind, ...await Promise.all(late)].map(async s => { await s.written }))
    // A flush is called once its file handle is at hand, in the microtasks after the write settled.
    const microtasksDone = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
    await microtasksDone()
    assert.equal(datasync.mock.callCount(), 1, 'the last write, with nothing left waiting, flushed the lot')
    // A disk that keeps up: one write at a time, a flush every DIRECT_SYNC_EVERY_BYTES.
    for (let i = behind.length; i < n; i++) {
      const stored = await put(i)
      ;(await nextWrite())()
      await stored.written
      await microtasksDone()
      await Promise.all(flushes) // a flush still running when the next one is due would skip it
    }
    assert.equal(datasync.mock.callCount(), 1 + Math.floor((n - behind.length) / every))
    assert.deepEqual(await readFile(await file.complete()), bytes)
    await store.close()
  })

  it('keeps at most maxOpenFiles files open while downloading and serving many files at once', async () => {
    const files = await Promise.all(Array.from({ length: 12 }, async (_, k) => await source(`many-${k}.bin`, 5 * 65536 + k, 65536)))
    const store = new RealStore(path.join(dir, 'out-many'), { maxOpenFiles: 3, recentBytes: 0 })
    let most = 0
    const watch = (): void => { most = Math.max(most, store.openFiles) }
    const downloads = await Promise.all(files.map(async ({ meta }) => await store.openDownload(meta)))
    watch()
    // Every file's segments written at once, each file's segments read back while others are written.
    await Promise.all(files.map(async ({ meta, bytes }, k) => {
      const file = downloads[k] as DownloadFile
      await writeAll(file, meta, bytes)
      watch()
      const back = await (file.read(2))
      assert.deepEqual(back, bytes.subarray(2 * 65536, 3 * 65536))
      segmentBuffers.give(back)
      watch()
      assert.deepEqual(await readFile(await file.complete()), bytes)
      watch()
    }))
    assert.ok(most <= 3, `at most 3 files open (saw ${most})`)
    // Served after completion from the final files, reopened as needed.
    for (const [k, { bytes }] of files.entries()) {
      const data = await (downloads[k] as DownloadFile).read(5)
      assert.deepEqual(data, bytes.subarray(5 * 65536))
      segmentBuffers.give(data)
      watch()
    }
    assert.ok(most <= 3, `at most 3 files open (saw ${most})`)
    await store.close()
    assert.equal(store.openFiles, 0)
  })

  it('resumes from a .part file written by an earlier run', async () => {
    const { meta, bytes } = await source('resume.bin', 12 * 65536, 65536)
    const out = path.join(dir, 'out-resume')
    const first = new RealStore(out)
    const a = await first.openDownload(meta)
    for (const i of [0, 3, 7, 11]) {
      const data = segmentOf(meta, bytes, i)
      await a.write(i, data)
      segmentBuffers.give(data)
    }
    await first.close()
    const second = new RealStore(out)
    const b = await second.openDownload(meta)
    assert.deepEqual(b.missing(), [1, 2, 4, 5, 6, 8, 9, 10])
    await writeAll(b, meta, bytes)
    const where = await b.complete()
    assert.deepEqual(await readFile(where), bytes)
    await assert.rejects(stat(`${where}.part`), { code: 'ENOENT' })
    await second.close()
  })

  it('checks a large .part on threads: keeps the good segments, drops damaged and unwritten ones', async () => {
    const seg = 65536
    const n = PARALLEL_HASH_MIN_SEGMENTS * 2 + 1
    const { meta, bytes } = await source('resume-big.bin', (n - 1) * seg + 999, seg)
    const out = path.join(dir, 'out-resume-big')
    const first = new RealStore(out)
    const a = await first.openDownload(meta)
    const written = Array.from({ length: n }, (_, i) => i).filter(i => i % 3 !== 1)
    for (const i of written) {
      const data = segmentOf(meta, bytes, i)
      await a.write(i, data)
      segmentBuffers.give(data)
    }
    await first.close()
    // A crash left garbage in segment 6, which had been written.
    const part = await open(path.join(out, 'resume-big.bin.part'), 'r+')
    await part.write(Buffer.alloc(100, 0xee), 0, 100, 6 * seg + 5)
    await part.close()
    const second = new RealStore(out)
    const threadsBefore = hashThreadsStarted
    const b = await second.openDownload(meta)
    assert.deepEqual(b.missing(), Array.from({ length: n }, (_, i) => i).filter(i => i % 3 === 1 || i === 6))
    if (worthThreads(n)) assert.ok(hashThreadsStarted > threadsBefore, 'the check ran on threads')
    await writeAll(b, meta, bytes)
    const where = await b.complete()
    assert.deepEqual(await readFile(where), bytes)
    await second.close()
    // The finished file, checked on threads too, is served as it is.
    const third = new RealStore(out)
    const c = await third.openDownload(meta)
    assert.deepEqual(c.missing(), [])
    await third.close()
  })
})
