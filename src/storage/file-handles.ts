import { open, type FileHandle } from 'node:fs/promises'
import { openForDirectWrites } from './direct-io.ts'

/** How a handle is opened: read-only, read-write, or write-only past the page cache (O_DIRECT). */
export type HandleMode = 'r' | 'r+' | 'direct'

/**
 * Opens `filePath` in `mode` (an existing file; with 'create', read-write, made empty or created);
 * rejects with the system error.
 */
export type Opener = (filePath: string, mode: HandleMode | 'create') => Promise<FileHandle>

/**
 * Open files a store keeps at most by default. A process's usual limit is 1024 descriptors, and the
 * peer's sockets (up to --max-connections incoming, and its own outgoing ones) need room beside them.
 */
export const DEFAULT_MAX_OPEN_FILES = 128

async function openMode (filePath: string, mode: HandleMode | 'create'): Promise<FileHandle> {
  if (mode === 'direct') return await openForDirectWrites(filePath)
  return await open(filePath, mode === 'create' ? 'w+' : mode)
}

interface Entry {
  fh: Promise<FileHandle>
  /** Operations using the handle now: it is never closed under them. */
  leases: number
  /** Let go while in use: closed when the last lease ends. */
  dropped: boolean
}

/**
 * The open files of a store, at most `max` at once: the least recently used idle ones are closed (and
 * reopened when next needed), and a use that needs one more while all are in use waits for one.
 * Without it a getter of thousands of files, or a seed of them, held one or two descriptors per file
 * and failed with EMFILE past the usual limit of 1024.
 */
export class FileHandles {
  /** By "mode\0path", least recently used first. */
  private readonly entries = new Map<string, Entry>()
  private readonly closing = new Set<Promise<void>>()
  /** Handles let go while in use (still open until that use ends). */
  private droppedInUse = 0
  /** Uses waiting for room to open a file. */
  private readonly waitingForRoom: Array<() => void> = []
  readonly max: number
  private readonly opener: Opener

  constructor (max = DEFAULT_MAX_OPEN_FILES, opener: Opener = openMode) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`most open files must be a whole number of at least 1, not ${max}`)
    this.max = max
    this.opener = opener
  }

  /** Handles open or opening now, not counting those closing. */
  get size (): number { return this.entries.size + this.droppedInUse }

  /**
   * Runs `fn` with `filePath` open in `mode` (opened now if it is not, after waiting for room), and
   * resolves with its result. The handle stays open while `fn` runs; `fn` must not close it, nor wait
   * for another use. `create` (read-write only): a file that is not open yet is created, or emptied.
   */
  async use<T> (filePath: string, mode: HandleMode, fn: (fh: FileHandle) => Promise<T>, opts: { create?: boolean } = {}): Promise<T> {
    const key = `${mode}\0${filePath}`
    let e = this.entries.get(key)
    while (e === undefined && this.size >= this.max) {
      this.trim(this.max - 1)
      if (this.size < this.max) break
      await new Promise<void>(resolve => { this.waitingForRoom.push(resolve) })
      e = this.entries.get(key)
    }
    if (e === undefined) {
      const opened: Entry = { fh: this.opener(filePath, opts.create === true && mode === 'r+' ? 'create' : mode), leases: 0, dropped: false }
      // A failed open leaves no entry behind (the caller sees the error through its own await).
      opened.fh.catch(() => { if (this.entries.get(key) === opened) this.entries.delete(key) })
      e = opened
    } else {
      this.entries.delete(key) // to the most recently used end
    }
    this.entries.set(key, e)
    e.leases++
    try {
      return await fn(await e.fh)
    } finally {
      e.leases--
      if (e.leases === 0) {
        if (e.dropped) { this.droppedInUse--; this.closeEntry(e) } else this.trim(this.max)
        this.wakeOne()
      }
    }
  }

  /** Closes every handle of `filePath` (at once, or as soon as it is no longer in use). */
  forget (filePath: string): void {
    for (const mode of ['r', 'r+', 'direct'] as const) {
      const key = `${mode}\0${filePath}`
      const e = this.entries.get(key)
      if (e !== undefined) this.drop(key, e)
    }
  }

  /** Closes every handle: resolves once the idle ones are closed (one in use closes when its use ends). */
  async closeAll (): Promise<void> {
    for (const [key, e] of this.entries) this.drop(key, e)
    while (this.closing.size > 0) await Promise.all([...this.closing])
  }

  /** Closes the least recently used idle handles until at most `keep` are open. */
  private trim (keep: number): void {
    for (const [key, e] of this.entries) {
      if (this.size <= keep) return
      if (e.leases === 0) this.drop(key, e)
    }
  }

  private drop (key: string, e: Entry): void {
    this.entries.delete(key)
    if (e.leases === 0) { this.closeEntry(e); this.wakeOne() } else { e.dropped = true; this.droppedInUse++ }
  }

  /** Lets the first use waiting for room look again. */
  private wakeOne (): void {
    this.waitingForRoom.shift()?.()
  }

  private closeEntry (e: Entry): void {
    const p: Promise<void> = e.fh.then(async fh => { await fh.close() }).catch(() => {}).finally(() => { this.closing.delete(p) })
    this.closing.add(p)
  }
}
