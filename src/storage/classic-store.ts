import { classicOutputPath, formatClassicOutput } from '../classic/output.ts'
import type { ClassicInput } from '../classic/input.ts'
import { HASH_BYTES, type FileMeta } from '../protocol/messages.ts'
import { writeFileAtomic } from '../util/atomic-write.ts'
import { Bitfield } from './bitfield.ts'
import type { DownloadFile, HeldFile, SegmentStore, StoredSegment } from './store.ts'
import { segmentHash } from './verify.ts'

/** Classic segments are 32 bytes: the hash's own text. */
export const CLASSIC_SEGMENT_BYTES = HASH_BYTES

/** FileMeta of a classic file from its hash list. */
export function classicMeta (name: string, hashes: readonly string[]): FileMeta {
  return {
    name,
    size: hashes.length * CLASSIC_SEGMENT_BYTES,
    segmentSize: CLASSIC_SEGMENT_BYTES,
    algo: 'classic',
    hashes: Buffer.from(hashes.join(''), 'latin1')
  }
}

class ClassicFile implements DownloadFile {
  readonly meta: FileMeta
  readonly bits: Bitfield
  private readonly data: Buffer
  private readonly outPath: string

  constructor (meta: FileMeta, whole: boolean, outPath: string) {
    this.meta = meta
    const n = meta.hashes.length / HASH_BYTES
    this.bits = whole ? Bitfield.full(n) : new Bitfield(n)
    this.data = whole ? meta.hashes : Buffer.alloc(meta.hashes.length)
    this.outPath = outPath
  }

  get whole (): boolean { return this.bits.full }
  has (i: number): boolean { return this.bits.has(i) }
  haveBits (): Buffer { return this.bits.bytes }
  async read (i: number): Promise<Buffer> { return this.data.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES) }
  missing (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.bits.length; i++) if (!this.bits.has(i)) out.push(i)
    return out
  }

  async write (i: number, data: Buffer): Promise<StoredSegment> {
    data.copy(this.data, i * HASH_BYTES)
    this.bits.set(i)
    return { written: Promise.resolve() }
  }

  async complete (): Promise<string> {
    const hashes: string[] = []
    for (let i = 0; i < this.bits.length; i++) hashes.push(segmentHash(this.meta, i).toString('latin1'))
    // Atomic but not fsynced: a few hundred bytes per file, and an fsync per rank costs more than the
    // whole transfer when the disk is busy. No process ever sees a half-written file either way.
    await writeFileAtomic(this.outPath, formatClassicOutput(hashes), { durable: false })
    return this.outPath
  }
}

/** Classic mode store: the hash is the content; a finished download is written as `DIR/clientR_<name>`. */
export class ClassicStore implements SegmentStore {
  private readonly files = new Map<string, ClassicFile>()
  private readonly dir: string
  private readonly rank: number

  constructor (rank: number, dir: string, input: ClassicInput) {
    this.rank = rank
    this.dir = dir
    for (const o of input.owned) {
      this.files.set(o.name, new ClassicFile(classicMeta(o.name, o.hashes), true, ''))
    }
  }

  owned (): FileMeta[] { return [...this.files.values()].filter(f => f.bits.full).map(f => f.meta) }
  held (name: string): HeldFile | undefined { return this.files.get(name) }

  async openDownload (meta: FileMeta): Promise<DownloadFile> {
    const known = this.files.get(meta.name)
    if (known !== undefined) return known
    const f = new ClassicFile(meta, false, classicOutputPath(this.dir, this.rank, meta.name))
    this.files.set(meta.name, f)
    return f
  }

  async close (): Promise<void> {}
}
