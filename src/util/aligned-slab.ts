import { alignedArrayBuffer, alignedSize } from './aligned-memory.ts'

/** What one slab aims to hold in all (its slot count is this over the slot size, within the bounds below). */
const SLAB_BYTES = 32 * 1024 * 1024
const MIN_SLOTS = 2
const MAX_SLOTS = 32

/** Slots a slab of `slotBytes` slots gets: about SLAB_BYTES in all, at least 2, at most 32. */
export function slotsPerSlab (slotBytes: number): number {
  return Math.max(MIN_SLOTS, Math.min(MAX_SLOTS, Math.floor(SLAB_BYTES / slotBytes)))
}

/**
 * Equal slots of page-aligned memory cut from one WebAssembly memory. V8 reserves about 10 GiB of
 * address space for every such memory whatever its size, so one memory per segment buffer reserved
 * hundreds of GiB in a busy getter; a slab reserves it once for many slots. Slot sizes are whole
 * 64 KiB pages, so every slot starts on a page boundary. Each slot counts its holders; a slot whose
 * last holder gives it back is free for the next take. Pure bookkeeping: the memory is untouched (and
 * so not resident) until a slot's bytes are first written.
 */
export class AlignedSlab {
  readonly buffer: ArrayBuffer
  readonly slotBytes: number
  readonly slots: number
  private readonly holders: Uint32Array
  /** Free slots, the lowest on top (taken first, so that memory already touched is reused first). */
  private readonly freeSlots: number[] = []

  /** Throws RangeError when the memory cannot be reserved (see alignedArrayBuffer). */
  constructor (slotBytes: number, slots: number) {
    if (slotBytes !== alignedSize(slotBytes) || !Number.isInteger(slots) || slots < 1) throw new RangeError(`bad slab: ${slots} slots of ${slotBytes} bytes`)
    this.buffer = alignedArrayBuffer(slotBytes * slots)
    this.slotBytes = slotBytes
    this.slots = slots
    this.holders = new Uint32Array(slots)
    for (let i = slots - 1; i >= 0; i--) this.freeSlots.push(i)
  }

  /** Slots no one holds. */
  get idle (): number { return this.freeSlots.length }

  /** A free slot, now held once, or -1 when every slot is held. */
  take (): number {
    const slot = this.freeSlots.pop()
    if (slot === undefined) return -1
    this.holders[slot] = 1
    return slot
  }

  /** Byte offset of `slot` in {@link buffer}. */
  offsetOf (slot: number): number { return slot * this.slotBytes }

  /** The slot holding byte `byteOffset` of {@link buffer}. */
  slotAt (byteOffset: number): number { return Math.floor(byteOffset / this.slotBytes) }

  /** Holders of `slot` (0 when free). */
  holdersOf (slot: number): number { return this.holders[slot] ?? 0 }

  /** Adds a holder to a held slot; false when the slot is free (given back already). */
  retain (slot: number): boolean {
    const n = this.holdersOf(slot)
    if (n === 0) return false
    this.holders[slot] = n + 1
    return true
  }

  /** Drops one holder of `slot`; true when that was the last (the slot is free again). Ignores a free slot. */
  give (slot: number): boolean {
    const n = this.holdersOf(slot)
    if (n === 0) return false
    this.holders[slot] = n - 1
    if (n > 1) return false
    // Keep the lowest free slot on top.
    let i = this.freeSlots.length
    this.freeSlots.push(slot)
    while (i > 0 && (this.freeSlots[i - 1] as number) < slot) {
      this.freeSlots[i] = this.freeSlots[i - 1] as number
      this.freeSlots[i - 1] = slot
      i--
    }
    return true
  }
}
