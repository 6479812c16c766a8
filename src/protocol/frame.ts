import type { Hash } from 'node:crypto'
import { ProtocolError } from './errors.ts'
import { segmentBuffers } from '../util/buffer-pool.ts'
import { createHash } from '../util/crypto.ts'

/** Bytes of the big-endian length prefix in front of every frame body. */
export const FRAME_HEADER_BYTES = 4

/**
 * Default largest frame body: a 16 MiB segment plus room for its header fields.
 * Segment sizes above 16 MiB are refused by `share`, so no honest frame is larger.
 */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024 + 64 * 1024

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderInit {
  /** Largest body accepted; checked against the prefix before anything is buffered. Default {@link DEFAULT_MAX_FRAME_BYTES}. */
  maxFrameBytes?: number
  /**
   * Copy mode, for sockets that read into one reused buffer (`net.connect({ onread })`): every body is
   * copied once into a buffer of exactly its size, and nothing refers to the pushed chunk afterwards.
   * Default false (zero-copy: bodies may be views of the pushed chunks).
   */
  copy?: boolean
  /**
   * Copy mode: bodies come from BufferPool.takeAligned with their byte `alignAt` on a page boundary
   * (the pool gives plain buffers to small bodies), so that the payload from there on (a segment's
   * data) can be written to disk with O_DIRECT without a copy. Default: no alignment.
   */
  alignAt?: number
  /**
   * Copy mode: SHA-256 of the bytes from `from` on of every body whose first byte is `tag` and that
   * has at least `minBytes` there, computed piece by piece as the bytes arrive, while they are still in
   * the CPU's cache (see {@link FrameDecoder.frameDigest}). Default: none.
   */
  digest?: { tag: number, from: number, minBytes: number }
}

/**
 * Splits a byte stream into frame bodies (`u32 length` + `length` bytes).
 * Incoming chunks are kept in a list and copied only when one body spans several of them,
 * so a segment that arrives in one chunk is handed on without a copy.
 */
export class FrameDecoder {
  maxFrameBytes: number
  private chunks: Buffer[] = []
  private buffered = 0
  private readonly copy: boolean
  private readonly alignAt: number | null
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES)
  private headerFill = 0
  private body: Buffer | null = null
  private bodyFill = 0
  /**
   * Copy mode: performance.now() when the first byte of the frame being handed on (or in progress)
   * arrived, i.e. of the push that brought it; NaN before the first frame and in zero-copy mode.
   * Read it while handling a body that push() yielded.
   */
  frameStartMs = Number.NaN

  /**
   * Copy mode with `digest`: the SHA-256 of the body just handed on, from `digest.from` on, or null
   * when it was not digested (another tag, too short). Read it while handling a body push() yielded.
   */
  frameDigest: Buffer | null = null

  private readonly digestSpec: { tag: number, from: number, minBytes: number } | null
  /** The body in progress is long enough for a digest, but its tag is not known yet. */
  private digestPending = false
  /** The digest of the body in progress, once it is known to get one. */
  private hash: Hash | null = null

  constructor (init: FrameDecoderInit = {}) {
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.copy = init.copy ?? false
    this.alignAt = init.alignAt ?? null
    this.digestSpec = this.copy ? init.digest ?? null : null
  }

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes (): number { return this.copy ? this.headerFill + this.bodyFill : this.buffered }

  /** Feeds one chunk; yields every complete body. Throws ProtocolError on a bad prefix. */
  * push (chunk: Buffer): Generator<Buffer> {
    if (chunk.length === 0) return
    if (this.copy) { yield * this.pushCopy(chunk); return }
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const length = this.peekLength()
      this.checkLength(length)
      if (this.buffered < FRAME_HEADER_BYTES + length) return
      this.consume(FRAME_HEADER_BYTES)
      yield this.consume(length)
    }
  }

  private checkLength (length: number): void {
    if (length === 0) throw new ProtocolError('ERR_EMPTY_FRAME', 'empty frame')
    if (length > this.maxFrameBytes) {
      throw new ProtocolError('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`)
    }
  }

  /**
   * Copy mode: where the next socket read may land instead of the shared buffer, namely the unfilled
   * rest of the body in progress (at most its next `maxBytes`) when at least `minBytes` of it are
   * still to come; null otherwise. Pass what was read into it to {@link push} as a view of it
   * (`target.subarray(0, n)`): it is not copied again. The view stays valid while the body is in
   * progress, and a body is only handed on once full.
   */
  readTarget (minBytes: number, maxBytes = Number.POSITIVE_INFINITY): Buffer | null {
    if (!this.copy || this.body === null || this.body.length - this.bodyFill < minBytes) return null
    return this.body.subarray(this.bodyFill, Math.min(this.body.length, this.bodyFill + maxBytes))
  }

  private * pushCopy (chunk: Buffer): Generator<Buffer> {
    let off = 0
    while (off < chunk.length) {
      if (this.body === null) {
        if (this.headerFill === 0) this.frameStartMs = performance.now()
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - off)
        chunk.copy(this.header, this.headerFill, off, off + take)
        this.headerFill += take
        off += take
        if (this.headerFill < FRAME_HEADER_BYTES) return
        this.headerFill = 0
        const length = this.header.readUInt32BE(0)
        this.checkLength(length)
        this.body = this.alignAt !== null ? segmentBuffers.takeAligned(length, this.alignAt) : segmentBuffers.take(length)
        this.bodyFill = 0
        this.digestPending = this.digestSpec !== null && length - this.digestSpec.from >= this.digestSpec.minBytes
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - off)
      // Bytes read straight into the view readTarget() gave are in place already.
      if (off !== 0 || chunk.buffer !== this.body.buffer || chunk.byteOffset !== this.body.byteOffset + this.bodyFill) {
        chunk.copy(this.body, this.bodyFill, off, off + take)
      }
      if (this.digestPending || this.hash !== null) this.digestRange(this.body, this.bodyFill, this.bodyFill + take)
      this.bodyFill += take
      off += take
      if (this.bodyFill === this.body.length) {
        const body = this.body
        this.body = null
        this.bodyFill = 0
        this.frameDigest = this.hash !== null ? this.hash.digest() : null
        this.hash = null
        this.digestPending = false
        yield body
      }
    }
  }

  /** Adds bytes [start, end) of the body in progress to its digest, deciding first whether it gets one. */
  private digestRange (body: Buffer, start: number, end: number): void {
    const spec = this.digestSpec as { tag: number, from: number }
    if (end <= spec.from) return
    if (this.digestPending) {
      // The tag (byte 0) is in place: `from` is past it.
      this.digestPending = false
      if (body[0] !== spec.tag) return
      this.hash = createHash('sha256')
    }
    this.hash?.update(body.subarray(Math.max(start, spec.from), end))
  }

  private peekLength (): number {
    const first = this.chunks[0] as Buffer
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0)
    const head = Buffer.alloc(FRAME_HEADER_BYTES)
    let filled = 0
    for (const c of this.chunks) {
      filled += c.copy(head, filled, 0, Math.min(c.length, FRAME_HEADER_BYTES - filled))
      if (filled === FRAME_HEADER_BYTES) break
    }
    return head.readUInt32BE(0)
  }

  /** Takes `n` bytes off the front; zero-copy when they lie in the first chunk. */
  private consume (n: number): Buffer {
    this.buffered -= n
    const first = this.chunks[0] as Buffer
    if (n === first.length) { this.chunks.shift(); return first }
    if (n < first.length) {
      this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.chunks[0] as Buffer
      const take = Math.min(c.length, n - filled)
      c.copy(out, filled, 0, take)
      filled += take
      if (take === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(take)
    }
    return out
  }
}
