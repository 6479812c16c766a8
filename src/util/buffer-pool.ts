import { PAGE_ALIGN, addressSpaceUnlimited, alignedSize } from './aligned-memory.ts'
import { AlignedSlab, slotsPerSlab } from './aligned-slab.ts'

/** Wholly free slabs of aligned memory kept in reserve at most (the rest are let go). */
const MAX_SPARE_SLABS = 2

/**
 * Reuses the large buffers of the segment path (socket -> verify -> disk, and disk -> socket).
 * A fresh 1 MiB buffer costs 256 page faults on first touch; a reused one costs none.
 * Buffers from take() are reference counted: every holder that called take() or retain() calls give()
 * once, and the memory returns to the pool when the last one has. Anything not from take() is ignored.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  /**
   * Page-aligned memory (see takeAligned), by slot size: slabs in the order they were made, slots
   * taken from the oldest slab with one free, so that younger slabs empty and are let go. Idle slots
   * do not count against maxBuffers: they stay with their slab.
   */
  private readonly slabs = new Map<number, AlignedSlab[]>()
  private readonly slabOf = new WeakMap<ArrayBuffer, AlignedSlab>()
  /** Wholly free slabs kept (see slotFreed), the one freed longest ago first. */
  private readonly spares: AlignedSlab[] = []
  private held = 0
  private heldBytes = 0
  /** Holders of each buffer handed out (absent = idle or dropped). */
  private readonly refs = new WeakMap<ArrayBuffer, number>()
  private readonly ours = new WeakSet<ArrayBuffer>()
  private readonly maxBuffers: number
  private readonly minBytes: number
  private readonly maxIdleBytes: number

  /**
   * Keeps at most `maxBuffers` idle buffers of at least `minBytes` each, and at most `maxIdleBytes`
   * in all: sixteen 1 MiB segments, one of 16 MiB (counted in buffers alone, a getter of 16 MiB
   * segments could keep 256 MiB idle).
   */
  constructor (maxBuffers = 16, minBytes = 64 * 1024, maxIdleBytes = 16 * 1024 * 1024) {
    this.maxBuffers = maxBuffers
    this.minBytes = minBytes
    this.maxIdleBytes = maxIdleBytes
  }

  /** A buffer of exactly `length` bytes, with unspecified content, held once by the caller. */
  take (length: number): Buffer {
    if (length >= this.minBytes) {
      const list = this.free.get(length)
      let ab = list?.pop()
      if (ab !== undefined) {
        this.held--
        this.heldBytes -= ab.byteLength
      } else {
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
   * what follows it can be written with O_DIRECT without a copy (see DirectWriter). The memory is a
   * slot of a slab (see AlignedSlab): of the smallest slot size that fits and wastes at most half, or
   * of a new slab. Falls back to take() below minBytes (not worth its pages), under an address-space
   * limit (every slab reserves much address space; see aligned-memory.ts) or when the memory cannot
   * be had.
   */
  takeAligned (length: number, at: number): Buffer {
    const pad = (PAGE_ALIGN - (at % PAGE_ALIGN)) % PAGE_ALIGN
    if (length < this.minBytes || !addressSpaceUnlimited()) return this.take(length)
    const need = alignedSize(pad + length)
    let slab: AlignedSlab | undefined
    for (const [size, list] of this.slabs) {
      if (size < need || size > 2 * need || (slab !== undefined && size >= slab.slotBytes)) continue
      slab = list.find(x => x.idle > 0) ?? slab
    }
    if (slab !== undefined) {
      const spare = this.spares.indexOf(slab) // a wholly free slab, in reserve until now
      if (spare >= 0) this.spares.splice(spare, 1)
    } else {
      try { slab = new AlignedSlab(need, slotsPerSlab(need)) } catch { return this.take(length) }
      const list = this.slabs.get(need) ?? []
      list.push(slab)
      this.slabs.set(need, list)
      this.slabOf.set(slab.buffer, slab)
    }
    return Buffer.from(slab.buffer, slab.offsetOf(slab.take()) + pad, length)
  }

  /** Slabs of page-aligned memory the pool keeps, for tests. */
  slabCount (): number {
    let n = 0
    for (const list of this.slabs.values()) n += list.length
    return n
  }

  /**
   * A slab that has just become wholly free is kept in reserve when it is the only one of its size;
   * of those, the MAX_SPARE_SLABS freed last are kept. The others are let go (the garbage collector
   * frees their memory).
   */
  private slotFreed (slab: AlignedSlab): void {
    if (slab.idle < slab.slots) return
    const list = this.slabs.get(slab.slotBytes)
    if (list === undefined) return
    if (list.length > 1) { this.letGo(slab); return }
    this.spares.push(slab)
    if (this.spares.length > MAX_SPARE_SLABS) this.letGo(this.spares.shift() as AlignedSlab)
  }

  private letGo (slab: AlignedSlab): void {
    const list = this.slabs.get(slab.slotBytes) ?? []
    list.splice(list.indexOf(slab), 1)
    if (list.length === 0) this.slabs.delete(slab.slotBytes)
    this.slabOf.delete(slab.buffer)
  }

  /** Adds a holder to a buffer from take() or takeAligned() that is still held. */
  retain (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer)) return
    const slab = this.slabOf.get(ab)
    if (slab !== undefined) {
      if (!slab.retain(slab.slotAt(view.byteOffset))) throw new Error('retain of a buffer that was already given back')
      return
    }
    if (!this.ours.has(ab)) return
    const n = this.refs.get(ab)
    if (n === undefined) throw new Error('retain of a buffer that was already given back')
    this.refs.set(ab, n + 1)
  }

  /** Drops one holder of the memory under `view`; the caller must not use it again. */
  give (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer)) return
    const slab = this.slabOf.get(ab)
    if (slab !== undefined) {
      if (slab.give(slab.slotAt(view.byteOffset))) this.slotFreed(slab)
      return
    }
    if (!this.ours.has(ab)) return
    const n = this.refs.get(ab)
    if (n === undefined) return // given back already
    if (n > 1) { this.refs.set(ab, n - 1); return }
    this.refs.delete(ab)
    if (this.held >= this.maxBuffers || this.heldBytes + ab.byteLength > this.maxIdleBytes) return
    const list = this.free.get(ab.byteLength) ?? []
    list.push(ab)
    this.free.set(ab.byteLength, list)
    this.held++
    this.heldBytes += ab.byteLength
  }

  /** Holders of the buffer under `view` (0 when idle or not from take()); for tests. */
  holders (view: Uint8Array): number {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer)) return 0
    const slab = this.slabOf.get(ab)
    return slab !== undefined ? slab.holdersOf(slab.slotAt(view.byteOffset)) : this.refs.get(ab) ?? 0
  }
}

/** The process-wide pool of the segment path. */
export const segmentBuffers = new BufferPool()
