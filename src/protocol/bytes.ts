import { ProtocolError } from './errors.ts'

/** Largest string field (names, hosts, messages) in bytes. */
export const MAX_STRING_BYTES = 4096

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Sequential reader over one frame body; every overrun is a ProtocolError. */
export class Reader {
  private offset = 0
  private readonly buf: Buffer
  constructor (buf: Buffer, offset = 0) { this.buf = buf; this.offset = offset }

  private need (n: number, what: string): void {
    if (this.offset + n > this.buf.length) throw new ProtocolError('ERR_TRUNCATED', `truncated ${what}`)
  }

  u8 (what: string): number { this.need(1, what); return this.buf.readUInt8(this.offset++) }
  u16 (what: string): number { this.need(2, what); const v = this.buf.readUInt16BE(this.offset); this.offset += 2; return v }
  u32 (what: string): number { this.need(4, what); const v = this.buf.readUInt32BE(this.offset); this.offset += 4; return v }
  u64 (what: string): number {
    this.need(8, what)
    const v = this.buf.readBigUInt64BE(this.offset)
    this.offset += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('ERR_BAD_FIELD', `${what} too large`)
    return Number(v)
  }

  bytes (n: number, what: string): Buffer {
    this.need(n, what)
    const v = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return v
  }

  string (what: string): string {
    const n = this.u16(what)
    if (n > MAX_STRING_BYTES) throw new ProtocolError('ERR_BAD_FIELD', `${what} longer than ${MAX_STRING_BYTES} bytes`)
    const raw = this.bytes(n, what)
    try {
      return UTF8.decode(raw)
    } catch (err) {
      throw new ProtocolError('ERR_BAD_FIELD', `${what} is not valid UTF-8`, { cause: err })
    }
  }

  /** Everything left (used for segment payloads, zero-copy). */
  rest (): Buffer { const v = this.buf.subarray(this.offset); this.offset = this.buf.length; return v }

  end (what: string): void {
    if (this.offset !== this.buf.length) throw new ProtocolError('ERR_TRAILING_BYTES', `${this.buf.length - this.offset} trailing bytes after ${what}`)
  }
}

/** Growable writer for small messages; large payloads are appended as separate parts, never copied. */
export class Writer {
  private buf: Buffer
  private offset: number

  constructor (initial = 256) {
    this.buf = Buffer.allocUnsafe(initial)
    this.offset = 0
  }

  private ensure (n: number): void {
    if (this.offset + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n))
    this.buf.copy(next, 0, 0, this.offset)
    this.buf = next
  }

  u8 (v: number): this { this.ensure(1); this.buf.writeUInt8(v, this.offset); this.offset += 1; return this }
  u16 (v: number): this { this.ensure(2); this.buf.writeUInt16BE(v, this.offset); this.offset += 2; return this }
  u32 (v: number): this { this.ensure(4); this.buf.writeUInt32BE(v, this.offset); this.offset += 4; return this }
  u64 (v: number): this { this.ensure(8); this.buf.writeBigUInt64BE(BigInt(v), this.offset); this.offset += 8; return this }
  bytes (b: Uint8Array): this { this.ensure(b.length); this.buf.set(b, this.offset); this.offset += b.length; return this }

  string (s: string): this {
    const n = Buffer.byteLength(s)
    if (n > MAX_STRING_BYTES) throw new RangeError(`string longer than ${MAX_STRING_BYTES} bytes`)
    this.u16(n)
    this.ensure(n)
    this.buf.write(s, this.offset, 'utf8')
    this.offset += n
    return this
  }

  /** The bytes written so far (a view, not a copy). */
  finish (): Buffer { return this.buf.subarray(0, this.offset) }
}
