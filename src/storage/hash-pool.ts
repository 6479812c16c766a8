import { availableParallelism } from 'node:os'
import type * as WorkerThreads from 'node:worker_threads'
import { HASH_BYTES, countSegments } from '../protocol/messages.ts'
import { addressSpaceLimit, readProc } from '../util/proc-limits.ts'
import { lazyRequire } from '../util/lazy-require.ts'

// Loaded on first use: most processes (every rank, every getter without a .part to check) never hash a whole file.
const workerThreads = lazyRequire<typeof WorkerThreads>('node:worker_threads')

/**
 * SHA-256 of a file's segments on several threads: each worker reads runs of segments from the file
 * itself (positional reads of HASH_PIECE_BYTES at a time) and hashes them, so the main thread only hands
 * out runs and collects 32-byte digests. Hashing a file is read + hash per segment; on one thread the
 * two take turns, on N threads N segments are in progress at once.
 */

/** Segments handed to a worker at a time: long enough runs for the kernel's read-ahead, short enough to balance. */
const RUN_SEGMENTS = 8

/**
 * Bytes read at a time, each hashed as it comes: a buffer that stays in the core's cache. Reading
 * 1 GiB from the page cache here took 0.16 s of system CPU in 128 KiB reads and 0.60 s in 1 MiB
 * reads (the kernel's copy then misses the cache), and read + SHA-256 of it 0.97 s against 1.34 s.
 */
const HASH_PIECE_BYTES = 128 * 1024

/**
 * The worker, run with `eval` (a script beside the bundle would have to be found at run time). For each
 * run it posts the digests of the run's segments in one buffer, and how many of them it could read in
 * full (fewer when the file ends early).
 */
const WORKER_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const { file, size, segmentSize, pieceSize } = workerData
let fd = -1
const buf = Buffer.allocUnsafe(pieceSize)
parentPort.on('message', run => {
  if (run === null) { if (fd >= 0) closeSync(fd); parentPort.close(); return }
  try {
    if (fd < 0) fd = openSync(file, 'r')
    const digests = Buffer.alloc((run.end - run.first) * 32)
    let whole = 0
    for (let i = run.first; i < run.end; i++) {
      const start = i * segmentSize
      const len = Math.min(segmentSize, size - start)
      const hash = createHash('sha256')
      let got = 0
      while (got < len) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, len - got), start + got)
        if (n === 0) break
        hash.update(buf.subarray(0, n))
        got += n
      }
      if (got < len) break
      hash.digest().copy(digests, (i - run.first) * 32)
      whole++
    }
    parentPort.postMessage({ first: run.first, whole, digests })
  } catch (err) {
    parentPort.postMessage({ error: { code: err.code, message: err.message } })
  }
})
`

/** A worker could not be started or died: the caller may hash on its own thread instead. */
export class HashWorkerError extends Error {}

/** Options of {@link hashSegmentsInParallel}. */
export interface ParallelHashOptions {
  /** Threads wanted (a positive integer), still within {@link affordableThreads}. Default {@link defaultHashThreads}. */
  threads?: number
}

/** Message from a worker. */
type FromWorker =
  | { first: number, whole: number, digests: Uint8Array }
  | { error: { code?: string, message: string } }

/** Below this many segments a file is better hashed on the calling thread: starting threads would cost more. */
export const PARALLEL_HASH_MIN_SEGMENTS = 16

/**
 * Most hashing threads at once, over the whole process: past a few, reading the disk rather than
 * hashing bounds the speed, and each thread adds about 8.5 MiB of resident memory.
 */
export const MAX_HASH_THREADS = 4

/** True when hashing `segments` segments on threads pays: enough of them, and more than one thread to use. */
export function worthThreads (segments: number): boolean {
  return segments >= PARALLEL_HASH_MIN_SEGMENTS && defaultHashThreads(segments) > 1
}

/**
 * Threads {@link hashSegmentsInParallel} uses by default for `segments` segments: one per core, one per
 * run of {@link RUN_SEGMENTS} segments, at most {@link MAX_HASH_THREADS}, and only as many as the
 * address-space limit leaves room for (at least 1).
 */
export function defaultHashThreads (segments: number, room = affordableThreads()): number {
  return Math.max(1, Math.min(availableParallelism(), Math.ceil(segments / RUN_SEGMENTS), MAX_HASH_THREADS, room))
}

/**
 * Address space a worker thread takes: 600-850 MiB measured here (its own V8 heap reservations and
 * code range), with a margin. Under a tight `ulimit -v` (some clusters set one) a thread that cannot
 * reserve it kills the whole process with a fatal V8 error, which no catch sees.
 */
const WORKER_ADDRESS_SPACE_BYTES = 1024 * 1024 * 1024

/**
 * How many worker threads fit under the process's address-space limit (RLIMIT_AS), read from /proc
 * (Linux). Without /proc (macOS, Windows: no such limit in practice; the BSDs would need their own
 * check) or without a limit: no bound.
 */
export function affordableThreads (limitsText = readProc('/proc/self/limits'), statusText = readProc('/proc/self/status')): number {
  const limit = addressSpaceLimit(limitsText)
  if (limit === null) return Number.MAX_SAFE_INTEGER
  const usedKiB = statusText === null ? null : /^VmSize:\s+([0-9]+) kB/m.exec(statusText)?.[1]
  if (usedKiB === undefined || usedKiB === null) return 0
  return Math.max(0, Math.floor((limit - Number(usedKiB) * 1024) / WORKER_ADDRESS_SPACE_BYTES))
}

/** What {@link hashSegmentsInParallel} found. */
export interface SegmentDigests {
  /** Segment i's SHA-256 at `i * HASH_BYTES`, for every i below `whole`; zeros after. */
  hashes: Buffer
  /** Segments read in full: all of them, unless the file is shorter than the size asked for. */
  whole: number
}

/** Worker threads started so far in this process (for tests). */
export let hashThreadsStarted = 0

/**
 * One file at a time: files opened together (a resumed `get` of several) would otherwise each start
 * their threads against the same address-space room, and the threads would compete for the same cores.
 */
let turn: Promise<void> = Promise.resolve()

/**
 * SHA-256 of every segment of the first `size` bytes of `filePath` cut into `segmentSize` pieces.
 * Rejects with the system error (code kept) when the file cannot be read, and with a
 * {@link HashWorkerError} when no thread fits under the address-space limit or a worker cannot start
 * or dies.
 */
export async function hashSegmentsInParallel (filePath: string, size: number, segmentSize: number, opts: ParallelHashOptions = {}): Promise<SegmentDigests> {
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) throw new RangeError(`threads must be a positive integer, not ${opts.threads}`)
  const segments = countSegments(size, segmentSize)
  const previous = turn
  let done!: () => void
  turn = new Promise(resolve => { done = resolve })
  await previous
  try {
    const room = affordableThreads()
    const threads = Math.min(opts.threads ?? defaultHashThreads(segments, room), segments, room)
    if (segments > 0 && threads < 1) throw new HashWorkerError('no room under the address-space limit for a hashing thread')
    return await hashOnThreads(filePath, size, segmentSize, segments, threads)
  } finally {
    done()
  }
}

async function hashOnThreads (filePath: string, size: number, segmentSize: number, segments: number, threads: number): Promise<SegmentDigests> {
  const hashes = Buffer.alloc(segments * HASH_BYTES)
  let whole = segments
  if (segments === 0) return { hashes, whole }
  const { Worker } = workerThreads()
  const workers: WorkerThreads.Worker[] = []
  let next = 0
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads
      let settled = false
      /** Workers told that there is no more work: they may exit. */
      const released = new Set<WorkerThreads.Worker>()
      const fail = (err: Error): void => { if (!settled) { settled = true; reject(err) } }
      const handOut = (w: WorkerThreads.Worker): void => {
        if (next >= segments) {
          released.add(w)
          w.postMessage(null)
          if (--running === 0 && !settled) { settled = true; resolve() }
          return
        }
        const first = next
        next = Math.min(segments, next + RUN_SEGMENTS)
        w.postMessage({ first, end: next })
      }
      for (let t = 0; t < threads && !settled; t++) {
        let w: WorkerThreads.Worker
        try {
          // Throws at once when the system refuses a thread (EAGAIN under a process or cgroup limit).
          w = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: filePath, size, segmentSize, pieceSize: HASH_PIECE_BYTES } })
        } catch (err) {
          fail(new HashWorkerError(`cannot start a hashing thread: ${(err as Error).message}`))
          break
        }
        hashThreadsStarted++
        workers.push(w)
        w.on('message', (m: FromWorker) => {
          if (settled) return
          if ('error' in m) {
            fail(Object.assign(new Error(m.error.message), m.error.code !== undefined ? { code: m.error.code } : {}))
            return
          }
          hashes.set(m.digests.subarray(0, m.whole * HASH_BYTES), m.first * HASH_BYTES)
          const end = Math.min(segments, m.first + RUN_SEGMENTS)
          if (m.first + m.whole < end) whole = Math.min(whole, m.first + m.whole)
          handOut(w)
        })
        w.on('error', err => { fail(new HashWorkerError(`hashing thread failed: ${err.message}`)) })
        // Exiting before it was released is a failure, even with code 0.
        w.on('exit', code => { if (!released.has(w)) fail(new HashWorkerError(`hashing thread exited with code ${code}`)) })
        handOut(w)
      }
    })
  } finally {
    // Each worker's file descriptor is closed with it: Node tracks the descriptors a worker opens.
    await Promise.all(workers.map(async w => { await w.terminate() }))
  }
  hashes.fill(0, whole * HASH_BYTES)
  return { hashes, whole }
}
