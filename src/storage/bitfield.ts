/** A fixed-size set of segment indexes, MSB first in each byte (as BEP 3 bitfields). */
export class Bitfield {
  readonly length: number
  readonly bytes: Buffer
  private ones = 0

  constructor (length: number, bytes?: Buffer) {
    this.length = length
    this.bytes = Buffer.alloc(Math.ceil(length / 8))
    if (bytes !== undefined) {
      bytes.copy(this.bytes, 0, 0, this.bytes.length)
      const spare = this.bytes.length * 8 - length
      if (spare > 0) this.bytes[this.bytes.length - 1] = (this.bytes[this.bytes.length - 1] as number) & (0xff << spare) & 0xff
      for (let i = 0; i < length; i++) if (this.has(i)) this.ones++
    }
  }

  /** How many indexes are set. */
  get count (): number { return this.ones }
  get full (): boolean { return this.ones === this.length }

  has (i: number): boolean {
    if (i < 0 || i >= this.length) return false
    return (((this.bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1
  }

  /** Sets index i; returns false when it was set already or is out of range. */
  set (i: number): boolean {
    if (i < 0 || i >= this.length || this.has(i)) return false
    this.bytes[i >> 3] = (this.bytes[i >> 3] as number) | (1 << (7 - (i & 7)))
    this.ones++
    return true
  }

  /** A bitfield with every index set. */
  static full (length: number): Bitfield {
    const b = new Bitfield(length)
    for (let i = 0; i < length; i++) b.set(i)
    return b
  }
}
