import type { FileMeta } from '../protocol/messages.ts'

/** A file this peer can serve segments of: owned whole, or partly downloaded. */
export interface HeldFile {
  readonly meta: FileMeta
  /** True when every segment is here (a seed of this file). */
  readonly whole: boolean
  has: (index: number) => boolean
  /** Have-map bytes for HAVE_MAP (MSB first). */
  haveBits: () => Buffer
  /** Reads one segment this file has. A buffer from the segment pool carries a reference the caller gives back. */
  read: (index: number) => Promise<Buffer>
}

/** A segment the store has taken; see {@link DownloadFile.write}. */
export interface StoredSegment { written: Promise<void> }

/** A file being downloaded into the store. */
export interface DownloadFile extends HeldFile {
  /** Segment indexes not yet stored. */
  missing: () => number[]
  /**
   * Stores a segment that was already verified against its hash; the store may keep a reference to
   * `data` (it must not change). Resolves once the store holds it: from then on it counts as had and
   * can be served (from memory until it is on disk). `written` settles when it is on disk, or rejects
   * with the write error.
   */
  write: (index: number, data: Buffer) => Promise<StoredSegment>
  /** Publishes the finished file atomically (temp + rename). Called once every segment is stored. */
  complete: () => Promise<string>
}

/**
 * Where segments live. Classic: the hash is the content. Real: bytes in files on disk.
 * The tracker and the peer engine never know which one they are using.
 */
export interface SegmentStore {
  /** Files this peer owns whole at start (registered with the tracker). */
  owned: () => FileMeta[]
  /** A file this peer can serve from, owned or being downloaded. */
  held: (name: string) => HeldFile | undefined
  /** Opens (or resumes) a download. Segments already present and verified count as had. */
  openDownload: (meta: FileMeta) => Promise<DownloadFile>
  /** Releases open files. */
  close: () => Promise<void>
}
