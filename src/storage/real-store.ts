import { mkdir, rename, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { HASH_BYTES, type FileMeta } from '../protocol/messages.ts'
import { unsafeNameReason } from '../protocol/names.ts'
import { Bitfield } from './bitfield.ts'
import { segmentBuffers } from '../util/buffer-pool.ts'
import { debuglog } from 'node:util'
import { RecentSegments } from './recent-segments.ts'
import { DIRECT_ALIGN, directAligned, directIoAvailable, directWriter } from './direct-io.ts'
import { DEFAULT_MAX_OPEN_FILES, FileHandles } from './file-handles.ts'
import type { DownloadFile, HeldFile, SegmentStore, StoredSegment } from './store.ts'
import { hashSegmentsInParallel, worthThreads } from './hash-pool.ts'
import { digestMatches, segmentLength, verifySegment } from './verify.ts'

const log = debuglog('dfss:store')

/** Default memory for the segments most recently downloaded, served to other peers without a disk read. */
export const DEFAULT_RECENT_BYTES = 32 * 1024 * 1024

/** Verified segments a download may hold in memory while they wait for the disk. */
export const WRITE_BEHIND_BYTES = 16 * 1024 * 1024

/** Direct writes in flight per file. */
const DIRECT_WRITES_IN_FLIGHT = 2

/** Bytes written through the page cache after which a download is flushed to disk in the background. */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024

/**
 * The same for direct writes. They skip the page cache but may still sit in the disk's volatile cache,
 * and a flush (ours, another process's, or the journal's) costs about 1.25 ms per MiB written since the
 * last one on these virtual disks, while every write on the device waits for it. Flushing a little at
 * a time keeps each wait short and leaves the fsync before the rename almost nothing to do.
 */
export const DIRECT_SYNC_EVERY_BYTES = 16 * 1024 * 1024

/** Reads exactly `len` bytes at `pos` into a fresh buffer. */
async function readExact (fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = segmentBuffers.take(len)
  let got = 0
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
    if (bytesRead === 0) throw new Error('unexpected end of file')
    got += bytesRead
  }
  return buf
}

/** A write error with what to do about it; the .part file stays for a later resume. */
function diskError (err: NodeJS.ErrnoException, partPath: string): Error {
  const what = err.code === 'ENOSPC' ? 'no space left on device' : err.code === 'EDQUOT' ? 'disk quota exceeded' : err.message
  return new Error(`cannot write ${partPath}: ${what}; the partial download is kept and resumes when dfss get runs again`, { cause: err })
}

/** Resolves a name from the network under `dir`, refusing anything that could escape it. */
export function safeJoin (dir: string, name: string): string {
  const why = unsafeNameReason(name)
  if (why !== null) throw new Error(`refused file name ${JSON.stringify(name)}: ${why}`)
  const root = path.resolve(dir)
  const full = path.resolve(root, name)
  if (!full.startsWith(root + path.sep)) throw new Error(`refused file name ${JSON.stringify(name)}: escapes ${root}`)
  return full
}

/** A whole file on disk that we share, read through the store's open files. */
class SharedFile implements HeldFile {
  readonly meta: FileMeta
  private readonly filePath: string
  private readonly handles: FileHandles
  private readonly bits: Bitfield
  constructor (meta: FileMeta, filePath: string, handles: FileHandles) {
    this.meta = meta
    this.filePath = filePath
    this.handles = handles
    this.bits = Bitfield.full(meta.hashes.length / HASH_BYTES)
  }

  readonly whole = true
  has (i: number): boolean { return this.bits.has(i) }
  haveBits (): Buffer { return this.bits.bytes }
  async read (i: number): Promise<Buffer> {
    return await this.handles.use(this.filePath, 'r', async fh => await readExact(fh, i * this.meta.segmentSize, segmentLength(this.meta, i)))
  }
}

/**
 * A download written with positional writes into `<name>.part`, renamed when complete. Its files are
 * opened through the store's FileHandles: `<name>.part` read-write (and write-only with O_DIRECT)
 * until the rename, the final file read-only after it.
 */
class PartFile implements DownloadFile {
  readonly meta: FileMeta
  readonly finalPath: string
  readonly partPath: string
  private readonly handles: FileHandles
  readonly bits: Bitfield
  private completed: boolean
  private unsynced = 0
  private syncing: Promise<void> | null = null
  /** The error of a background flush, if one failed. */
  private syncFailure: NodeJS.ErrnoException | null = null

  private readonly recent: RecentSegments
  /** Whether segments may be written past the page cache (see direct-io.ts); false = buffered writes only. */
  private direct: boolean
  /** Settles once `<name>.part` exists at its full size (made by the first write); null until then. */
  private made: Promise<void> | null

  /** Makes `<name>.part` (sparse, at the file's size) once, whatever writes ask for it at the same time. */
  private async ensureMade (): Promise<void> {
    this.made ??= this.handles.use(this.partPath, 'r+', async fh => { await fh.truncate(this.meta.size) }, { create: true })
    await this.made
  }

  constructor (meta: FileMeta, handles: FileHandles, finalPath: string, partPath: string, bits: Bitfield, recent: RecentSegments, opts: { completed?: boolean, direct?: boolean, exists?: boolean } = {}) {
    this.completed = opts.completed ?? false
    this.made = (opts.completed ?? false) || (opts.exists ?? false) ? Promise.resolve() : null
    this.direct = opts.direct ?? false
    this.recent = recent
    this.meta = meta
    this.handles = handles
    this.finalPath = finalPath
    this.partPath = partPath
    this.bits = bits
  }

  get isComplete (): boolean { return this.completed }
  get whole (): boolean { return this.bits.full }
  has (i: number): boolean { return this.bits.has(i) || this.queued.has(i) }
  haveBits (): Buffer {
    if (this.queued.size === 0) return this.bits.bytes
    const bits = new Bitfield(this.bits.length, this.bits.bytes)
    for (const i of this.queued.keys()) bits.set(i)
    return bits.bytes
  }

  async read (i: number): Promise<Buffer> {
    const queued = this.queued.get(i)?.data
    if (queued !== undefined) { segmentBuffers.retain(queued); return queued }
    const recent = this.recent.get(this.meta.name, i)
    if (recent !== undefined) return recent
    const at = i * this.meta.segmentSize
    const len = segmentLength(this.meta, i)
    const read = async (fh: FileHandle): Promise<Buffer> => await readExact(fh, at, len)
    if (this.completed) return await this.handles.use(this.finalPath, 'r', read)
    try {
      return await this.handles.use(this.partPath, 'r+', read)
    } catch (err) {
      // Renamed while this read was reopening the .part (its handle had been closed to make room).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !this.completed) throw err
      return await this.handles.use(this.finalPath, 'r', read)
    }
  }

  missing (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.bits.length; i++) if (!this.has(i)) out.push(i)
    return out
  }

  /** Segments accepted but not yet on disk (write-behind), each holding a reference to its buffer. */
  private readonly queued = new Map<number, { data: Buffer, written: Promise<void>, settle: (err?: Error) => void }>()
  /** Of those, the ones whose write has not started, oldest first. */
  private readonly toWrite: number[] = []
  private queuedBytes = 0
  private writing = 0
  /** Bytes of verified segments waiting for the disk (at most WRITE_BEHIND_BYTES, or one segment). */
  get pendingWriteBytes (): number { return this.queuedBytes }
  /** The first write that failed: every later write() and complete() rejects with it. */
  private failure: Error | null = null
  /** Callers waiting for room in the queue, or for it to empty. */
  private readonly waiting: Array<() => void> = []

  /**
   * Takes a verified segment. Resolves as soon as it is queued (it is served from memory until written),
   * so a slow disk does not hold back the network; waits while WRITE_BEHIND_BYTES are already queued.
   */
  async write (i: number, data: Buffer): Promise<StoredSegment> {
    while (this.failure === null && this.queuedBytes > 0 && this.queuedBytes + data.length > WRITE_BEHIND_BYTES) await this.changed()
    if (this.failure !== null) throw this.failure
    const known = this.queued.get(i)
    if (known !== undefined) return { written: known.written }
    if (this.bits.has(i)) return { written: Promise.resolve() }
    segmentBuffers.retain(data)
    let settle!: (err?: Error) => void
    const written = new Promise<void>((resolve, reject) => { settle = err => { if (err === undefined) resolve(); else reject(err) } })
    written.catch(() => {}) // the caller may not listen: the failure also rejects later writes and complete()
    this.queued.set(i, { data, written, settle })
    this.queuedBytes += data.length
    // Into the recent segments now: the buffer waiting for the disk and the one kept for uploads are the
    // same memory, so the queue adds nothing to the recent budget while it is shorter.
    this.recent.put(this.meta.name, i, data)
    this.toWrite.push(i)
    this.startWrites()
    return { written }
  }

  private async changed (): Promise<void> { await new Promise<void>(resolve => { this.waiting.push(resolve) }) }

  /**
   * Starts queued writes: one at a time through the page cache (parallel buffered writes to one file
   * contend on its inode lock), two direct ones (the next is queued in the kernel while the main thread
   * is busy, so the disk never waits for it).
   */
  private startWrites (): void {
    const depth = this.direct ? DIRECT_WRITES_IN_FLIGHT : 1
    while (this.writing < depth && this.toWrite.length > 0) {
      const i = this.toWrite.shift() as number
      const { data, settle } = this.queued.get(i) as { data: Buffer, settle: (err?: Error) => void }
      this.writing++
      const write = this.failure === null ? this.writeNow(i, data) : Promise.reject(this.failure)
      write.then(() => { settle() }, (err: Error) => { this.failure ??= err; settle(err) }).finally(() => {
        this.writing--
        this.queued.delete(i)
        this.queuedBytes -= data.length
        segmentBuffers.give(data)
        this.startWrites()
        for (const wake of this.waiting.splice(0)) wake()
      })
    }
  }

  /** Resolves when every queued segment is written (or has failed). */
  private async flushed (): Promise<void> {
    while (this.queued.size > 0) await this.changed()
  }

  private async writeNow (i: number, data: Buffer): Promise<void> {
    try { await this.ensureMade() } catch (err) { throw diskError(err as NodeJS.ErrnoException, this.partPath) }
    const pos = i * this.meta.segmentSize
    const direct = this.direct && directAligned(pos, data.length) ? await this.writeDirect(data, pos) : 0
    try {
      if (direct < data.length) {
        await this.handles.use(this.partPath, 'r+', async fh => {
          let done = direct
          while (done < data.length) {
            const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done)
            done += bytesWritten
          }
        })
      }
    } catch (err) {
      throw diskError(err as NodeJS.ErrnoException, this.partPath)
    }
    this.bits.set(i)
    this.unsynced += data.length
    // Flush in the background as we go, so the fsync before the final rename has little left to do.
    // Direct writes only while the disk keeps up (no other write of ours waits): where the disk is what
    // limits the download, extra flushes only slow it down.
    const due = direct === data.length
      ? this.unsynced >= DIRECT_SYNC_EVERY_BYTES && this.toWrite.length === 0 && this.writing === 1
      : this.unsynced >= SYNC_EVERY_BYTES
    if (due && this.syncing === null) {
      this.unsynced = 0
      // A flush error is reported once per open file: kept, so complete() cannot publish the file after it.
      this.syncing = this.handles.use(this.partPath, 'r+', async fh => { await fh.datasync() }).catch((err: NodeJS.ErrnoException) => { this.syncFailure ??= err }).finally(() => { this.syncing = null })
    }
  }

  /** Writes the segment past the page cache; returns the bytes written (0 = use buffered writes from now on). */
  private async writeDirect (data: Buffer, pos: number): Promise<number> {
    try {
      await this.handles.use(this.partPath, 'direct', async fh => { await directWriter.write(fh, data, pos) })
      return data.length
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      // EINVAL: the file system wants another alignment, or refuses O_DIRECT at open. No syscall: no
      // aligned memory (address space). Any other error opening for direct writes: buffered writes.
      if (e.code !== 'EINVAL' && e.syscall !== undefined && e.syscall !== 'open') throw diskError(e, this.partPath)
      log('direct writes refused for %s (%s): buffered from now on', this.partPath, (err as Error).message)
      this.direct = false
      return 0
    }
  }

  async complete (): Promise<string> {
    if (this.completed) return this.finalPath
    await this.flushed()
    if (this.failure !== null) throw this.failure
    if (!this.bits.full) throw new Error(`"${this.meta.name}" is not complete`)
    try {
      await this.ensureMade() // an empty file has no write to make it
      await this.syncing
      if (this.syncFailure !== null) throw this.syncFailure
      await this.handles.use(this.partPath, 'r+', async fh => { await fh.sync() })
    } catch (err) {
      throw diskError(err as NodeJS.ErrnoException, this.partPath)
    }
    await rename(this.partPath, this.finalPath)
    this.completed = true
    this.handles.forget(this.partPath) // a path no longer: reads open the final file from now on
    return this.finalPath
  }

  /** Waits for the writes in flight (the store closes the files). */
  async close (): Promise<void> {
    await this.flushed()
  }
}

/**
 * Checks which segments of an existing file (`fh`, open on `filePath`) already match their hashes
 * (resume). Large files are hashed on several threads (hash-pool.ts); where that fails (no threads, a
 * read error), one segment at a time here, where a segment that cannot be read counts as missing.
 */
async function verifyExisting (filePath: string, fh: FileHandle, meta: FileMeta, bits: Bitfield): Promise<void> {
  const n = bits.length
  if (meta.algo === 'sha256' && worthThreads(n)) {
    const digests = await hashSegmentsInParallel(filePath, meta.size, meta.segmentSize).catch(() => null)
    if (digests !== null) {
      for (let i = 0; i < digests.whole; i++) if (digestMatches(meta, i, digests.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES))) bits.set(i)
      return
    }
  }
  for (let i = 0; i < n; i++) {
    const len = segmentLength(meta, i)
    let data: Buffer
    try { data = await readExact(fh, i * meta.segmentSize, len) } catch { continue }
    if (verifySegment(meta, i, data)) bits.set(i)
    segmentBuffers.give(data)
  }
}

/** Real-file store: shares files from disk and downloads into an output directory. */
export class RealStore implements SegmentStore {
  private readonly shared = new Map<string, SharedFile>()
  private readonly downloads = new Map<string, PartFile>()
  private readonly outDir: string
  private readonly recent: RecentSegments
  private readonly directIo: boolean
  /** Every file this store reads or writes is opened through here, at most maxOpenFiles at once. */
  private readonly handles: FileHandles

  /**
   * `outDir` is where downloads go (created when needed); `recentBytes` of fresh segments stay in memory
   * for uploads; `directIo` (default true) writes downloads past the page cache where the system allows;
   * at most `maxOpenFiles` files stay open (default 128; see FileHandles).
   */
  constructor (outDir: string, opts: { recentBytes?: number, directIo?: boolean, maxOpenFiles?: number } = {}) {
    this.outDir = outDir
    this.recent = new RecentSegments(opts.recentBytes ?? DEFAULT_RECENT_BYTES)
    this.directIo = opts.directIo ?? true
    this.handles = new FileHandles(opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES)
  }

  /** Files open now (for tests). */
  get openFiles (): number { return this.handles.size }

  /** Shares a file already hashed (see hashFile). */
  async addShared (filePath: string, meta: FileMeta): Promise<void> {
    const why = unsafeNameReason(meta.name)
    if (why !== null) throw new Error(`cannot share ${filePath} as ${JSON.stringify(meta.name)}: ${why}`)
    if (this.shared.has(meta.name)) throw new Error(`two shared files are both named "${meta.name}"`)
    // Opened now, so that an unreadable file fails here, and kept open while there is room.
    await this.handles.use(filePath, 'r', async () => {})
    this.shared.set(meta.name, new SharedFile(meta, filePath, this.handles))
  }

  /** Shared files and finished downloads (registered again after a tracker restart). */
  owned (): FileMeta[] {
    return [...this.shared.values(), ...[...this.downloads.values()].filter(d => d.isComplete)].map(f => f.meta)
  }

  held (name: string): HeldFile | undefined { return this.shared.get(name) ?? this.downloads.get(name) }

  async openDownload (meta: FileMeta): Promise<DownloadFile> {
    const known = this.downloads.get(meta.name)
    if (known !== undefined) return known
    const finalPath = safeJoin(this.outDir, meta.name)
    const partPath = `${finalPath}.part`
    await mkdir(path.dirname(finalPath), { recursive: true })
    const n = meta.hashes.length / HASH_BYTES
    const bits = new Bitfield(n)
    // A finished file from an earlier run: verify it and serve it.
    const existing = await stat(finalPath).catch(() => null)
    if (existing !== null && existing.isFile() && existing.size === meta.size) {
      await this.handles.use(finalPath, 'r', async fh => { await verifyExisting(finalPath, fh, meta, bits) })
      if (bits.full) {
        const f = new PartFile(meta, this.handles, finalPath, partPath, bits, this.recent, { completed: true })
        this.downloads.set(meta.name, f)
        return f
      }
      this.handles.forget(finalPath)
    }
    const resumed = new Bitfield(n)
    // A .part of an earlier run is resumed; a new one is made with the first write (no descriptor is
    // spent on a file still waiting for its first segment, when thousands are downloaded at once).
    const part = await stat(partPath).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return null; throw err })
    if (part !== null) {
      await this.handles.use(partPath, 'r+', async fh => {
        await fh.truncate(meta.size)
        await verifyExisting(partPath, fh, meta, resumed)
      })
    }
    const direct = this.directIo && directIoAvailable && meta.segmentSize % DIRECT_ALIGN === 0
    const f = new PartFile(meta, this.handles, finalPath, partPath, resumed, this.recent, { direct, exists: part !== null })
    this.downloads.set(meta.name, f)
    return f
  }

  async close (): Promise<void> {
    log('recent segments: %d served from memory, %d read from disk', this.recent.hits, this.recent.misses)
    this.recent.clear()
    await Promise.all([...this.downloads.values()].map(async f => { await f.close().catch(() => {}) }))
    await this.handles.closeAll()
    this.shared.clear()
    this.downloads.clear()
  }
}
