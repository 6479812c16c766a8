/**
 * Reuses the large buffers of the segment path (socket -> verify -> disk, and disk -> socket).
 * A fresh 1 MiB buffer costs 256 page faults on first touch; a reused one costs none. Only buffers
 * whose owner is certain nobody else holds them are given back.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  private held = 0
  private readonly ours = new WeakSet<ArrayBuffer>()
  private readonly maxBuffers: number
  private readonly minBytes: number

  /** Keeps at most `maxBuffers` idle buffers of at least `minBytes` each. */
  constructor (maxBuffers = 16, minBytes = 64 * 1024) {
    this.maxBuffers = maxBuffers
    this.minBytes = minBytes
  }

  /** A buffer of exactly `length` bytes, with unspecified content. */
  take (length: number): Buffer {
    if (length >= this.minBytes) {
      const list = this.free.get(length)
      const ab = list?.pop()
      if (ab !== undefined) { this.held--; return Buffer.from(ab, 0, length) }
      const fresh = new ArrayBuffer(length)
      this.ours.add(fresh)
      return Buffer.from(fresh)
    }
    return Buffer.allocUnsafe(length)
  }

  /** Gives back the memory under `view` (a view of a buffer from take(); anything else is ignored); the caller must not use it again. */
  give (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer) || !this.ours.has(ab) || this.held >= this.maxBuffers) return
    const list = this.free.get(ab.byteLength) ?? []
    if (list.includes(ab)) return
    list.push(ab)
    this.free.set(ab.byteLength, list)
    this.held++
  }
}

/** The process-wide pool of the segment path. */
export const segmentBuffers = new BufferPool()
