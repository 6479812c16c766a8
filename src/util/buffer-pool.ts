import { PAGE_ALIGN, addressSpaceUnlimited, alignedArrayBuffer, alignedSize, isAlignedMemory } from './aligned-memory.ts'

/**
 * Reuses the large buffers of the segment path (socket -> verify -> disk, and disk -> socket).
 * A fresh 1 MiB buffer costs 256 page faults on first touch; a reused one costs none.
 * Buffers from take() are reference counted: every holder that called take() or retain() calls give()
 * once, and the memory returns to the pool when the last one has. Anything not from take() is ignored.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  /** Idle page-aligned buffers (see takeAligned), by size: never handed out by take(). */
  private readonly freeAligned = new Map<number, ArrayBuffer[]>()
  private held = 0
  /** Holders of each buffer handed out (absent = idle or dropped). */
  private readonly refs = new WeakMap<ArrayBuffer, number>()
  private readonly ours = new WeakSet<ArrayBuffer>()
  private readonly maxBuffers: number
  private readonly minBytes: number

  /** Keeps at most `maxBuffers` idle buffers of at least `minBytes` each. */
  constructor (maxBuffers = 16, minBytes = 64 * 1024) {
    this.maxBuffers = maxBuffers
    this.minBytes = minBytes
  }

  /** A buffer of exactly `length` bytes, with unspecified content, held once by the caller. */
  take (length: number): Buffer {
    if (length >= this.minBytes) {
      const list = this.free.get(length)
      let ab = list?.pop()
      if (ab !== undefined) this.held--
      else {
        ab = new ArrayBuffer(length)
        this.ours.add(ab)
      }
      this.refs.set(ab, 1)
      return Buffer.from(ab, 0, length)
    }
    return Buffer.allocUnsafe(length)
  }

  /**
   * Like take(), but byte `at` of the buffer lies on a page boundary of page-aligned memory, so that
   * what follows it can be written with O_DIRECT without a copy (see DirectWriter). Falls back to
   * take() below minBytes (not worth its pages), under an address-space limit (each aligned buffer
   * reserves much address space; see aligned-memory.ts) or when the memory cannot be had.
   */
  takeAligned (length: number, at: number): Buffer {
    const pad = (PAGE_ALIGN - (at % PAGE_ALIGN)) % PAGE_ALIGN
    if (length < this.minBytes || !addressSpaceUnlimited()) return this.take(length)
    let ab = this.freeAligned.get(alignedSize(pad + length))?.pop()
    if (ab !== undefined) this.held--
    else {
      try { ab = alignedArrayBuffer(pad + length) } catch { return this.take(length) }
      this.ours.add(ab)
    }
    this.refs.set(ab, 1)
    return Buffer.from(ab, pad, length)
  }

  /** Adds a holder to a buffer from take() that is still held. */
  retain (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer) || !this.ours.has(ab)) return
    const n = this.refs.get(ab)
    if (n === undefined) throw new Error('retain of a buffer that was already given back')
    this.refs.set(ab, n + 1)
  }

  /** Drops one holder of the memory under `view`; the caller must not use it again. */
  give (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer) || !this.ours.has(ab)) return
    const n = this.refs.get(ab)
    if (n === undefined) return // given back already
    if (n > 1) { this.refs.set(ab, n - 1); return }
    this.refs.delete(ab)
    if (this.held >= this.maxBuffers) return
    const free = isAlignedMemory(ab) ? this.freeAligned : this.free
    const list = free.get(ab.byteLength) ?? []
    list.push(ab)
    free.set(ab.byteLength, list)
    this.held++
  }

  /** Holders of the buffer under `view` (0 when idle or not from take()); for tests. */
  holders (view: Uint8Array): number {
    const ab = view.buffer
    return ab instanceof ArrayBuffer ? this.refs.get(ab) ?? 0 : 0
  }
}

/** The process-wide pool of the segment path. */
export const segmentBuffers = new BufferPool()
