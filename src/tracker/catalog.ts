import picomatch from 'picomatch'
import { deriveFileId } from '../protocol/file-id.ts'
import { HASH_BYTES, type CatalogEntry, type FileMeta } from '../protocol/messages.ts'

/** One file the tracker knows, with its swarm. It never records which segments a member holds. */
export interface CatalogFile {
  meta: FileMeta
  /** deriveFileId(meta): the file's identity. */
  id: string
  /** Members holding the whole file. */
  seeds: Set<number>
  /** Members downloading it (they asked for its swarm). */
  peers: Set<number>
}

/** Why a registration was refused. */
export class CatalogConflictError extends Error {
  override name = 'CatalogConflictError'
}

function sameFile (a: CatalogFile, b: FileMeta): boolean {
  return a.id === deriveFileId(b)
}

/** The tracker's catalog: every file by name and its swarm. */
export class Catalog {
  private readonly files = new Map<string, CatalogFile>()

  get size (): number { return this.files.size }

  get (name: string): CatalogFile | undefined { return this.files.get(name) }

  /** Records that `peer` owns `meta` whole. A different file under a known name is refused. */
  addSeed (peer: number, meta: FileMeta): void {
    const known = this.files.get(meta.name)
    if (known === undefined) {
      this.files.set(meta.name, { meta, id: deriveFileId(meta), seeds: new Set([peer]), peers: new Set() })
      return
    }
    if (!sameFile(known, meta)) {
      throw new CatalogConflictError(`"${meta.name}" is already shared with different content (file id ${known.id.slice(0, 16)}…, ${known.meta.size} bytes, ${known.meta.hashes.length / HASH_BYTES} segments)`)
    }
    known.peers.delete(peer)
    known.seeds.add(peer)
  }

  /** A member that asks for a file's swarm joins it as a peer (unless it is a seed already). */
  join (peer: number, name: string): CatalogFile | undefined {
    const f = this.files.get(name)
    if (f !== undefined && !f.seeds.has(peer)) f.peers.add(peer)
    return f
  }

  /** A member that reports a file done becomes its seed. */
  markDone (peer: number, name: string): boolean {
    const f = this.files.get(name)
    if (f === undefined) return false
    f.peers.delete(peer)
    f.seeds.add(peer)
    return true
  }

  /** Drops a member from every swarm; files nobody holds any more leave the catalog. */
  removeMember (peer: number): void {
    for (const [name, f] of this.files) {
      f.seeds.delete(peer)
      f.peers.delete(peer)
      if (f.seeds.size === 0 && f.peers.size === 0) this.files.delete(name)
    }
  }

  /** Catalog lines whose names match the glob (all with an empty pattern), sorted by name. */
  list (pattern: string): CatalogEntry[] {
    const match = pattern === '' ? () => true : picomatch(pattern, { dot: true })
    const out: CatalogEntry[] = []
    for (const [name, f] of this.files) {
      if (!match(name)) continue
      out.push({ name, size: f.meta.size, segments: f.meta.hashes.length / HASH_BYTES, seeds: f.seeds.size, peers: f.peers.size })
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }
}
