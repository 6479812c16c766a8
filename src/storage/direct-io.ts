import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { debuglog } from 'node:util'
import { PAGE_ALIGN, alignedArrayBuffer, isPageAligned } from '../util/aligned-memory.ts'

const log = debuglog('dfss:store')

/**
 * Alignment of offsets, lengths and memory for O_DIRECT writes: 4 KiB covers the logical block size
 * of the usual disks (512 B or 4 KiB); anything else is refused by the kernel with EINVAL, and the
 * file falls back to buffered writes.
 */
export const DIRECT_ALIGN = PAGE_ALIGN

/** True when O_DIRECT exists here (Linux). */
export const directIoAvailable = typeof constants.O_DIRECT === 'number' && constants.O_DIRECT > 0

/**
 * Opens `filePath` (which must exist) for writes that bypass the page cache, or returns null where
 * that is impossible (no O_DIRECT, or a file system such as some tmpfs that refuses it).
 *
 * Why: on these machines a buffered write of fresh data costs more CPU than hashing and both socket
 * copies together (the kernel allocates and fills a new page-cache page per 4 KiB), while a direct
 * write costs one copy into an aligned buffer. Downloads are fsynced before the rename anyway, so the
 * disk has to take every byte during the download either way.
 */
export async function openDirect (filePath: string): Promise<FileHandle | null> {
  try {
    return await openForDirectWrites(filePath)
  } catch (err) {
    log('no direct writes for %s: %s', filePath, (err as Error).message)
    return null
  }
}

/** Like {@link openDirect}, but rejects with the reason (EINVAL where there is no O_DIRECT). */
export async function openForDirectWrites (filePath: string): Promise<FileHandle> {
  if (!directIoAvailable) throw Object.assign(new Error(`no O_DIRECT on this system: ${filePath}`), { code: 'EINVAL', syscall: 'open' })
  return await open(filePath, constants.O_WRONLY | constants.O_DIRECT)
}

/** True when a write of `length` bytes at `position` meets the alignment of direct writes. */
export function directAligned (position: number, length: number): boolean {
  return length > 0 && position % DIRECT_ALIGN === 0 && length % DIRECT_ALIGN === 0
}

/** Aligned buffers of the direct writer: enough for the writes libuv runs at once (its pool has four threads). */
const SLOTS = 4

/**
 * The process's direct writes: data already in page-aligned memory (a segment received into a body
 * from BufferPool.takeAligned) is written from where it is; any other is copied into one of the
 * writer's aligned buffers (memory of Node's Buffers has no alignment guarantee) and written from
 * there. Each such buffer is a WebAssembly.Memory, whose base is page aligned, made when first needed
 * and remade larger when a bigger write comes; at most {@link SLOTS} writes run at once, later ones
 * wait for a slot.
 */
export class DirectWriter {
  private readonly free: Buffer[] = []
  private made = 0
  private readonly waiting: Array<(slot: Buffer) => void> = []
  /** Bytes written directly (for tests and the debug log). */
  bytes = 0
  /** Of those, bytes written from the caller's own aligned memory, without a copy. */
  inPlaceBytes = 0

  /**
   * Writes all of `data` at `position` through `fh` (opened by {@link openDirect}); rejects with the
   * system error (EINVAL when the file system wants another alignment) and leaves the caller to fall back.
   */
  async write (fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
    let slot = await this.acquire()
    try {
      // A segment that arrived into aligned memory (FrameDecoder's alignAt) goes to disk from where it is.
      let from: Uint8Array = data
      if (!isPageAligned(data)) {
        if (slot.length < data.length) slot = aligned(data.length)
        slot.set(data)
        from = slot
      }
      let done = 0
      while (done < data.length) {
        const { bytesWritten } = await fh.write(from, done, data.length - done, position + done)
        if (bytesWritten === 0 || bytesWritten % DIRECT_ALIGN !== 0) {
          // A short direct write that breaks alignment: the caller redoes the segment buffered.
          throw Object.assign(new Error(`short direct write (${bytesWritten} bytes)`), { code: 'EINVAL' })
        }
        done += bytesWritten
      }
      this.bytes += data.length
      if (from === data) this.inPlaceBytes += data.length
    } finally {
      this.release(slot)
    }
  }

  private async acquire (): Promise<Buffer> {
    const slot = this.free.pop()
    if (slot !== undefined) return slot
    if (this.made < SLOTS) { this.made++; return Buffer.alloc(0) }
    return await new Promise(resolve => { this.waiting.push(resolve) })
  }

  private release (slot: Buffer): void {
    const next = this.waiting.shift()
    if (next !== undefined) next(slot)
    else this.free.push(slot)
  }
}

/** A buffer of at least `length` bytes whose memory starts on a page boundary. */
function aligned (length: number): Buffer {
  return Buffer.from(alignedArrayBuffer(length))
}

/** The process-wide direct writer. */
export const directWriter = new DirectWriter()
