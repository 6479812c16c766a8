import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import picomatch from 'picomatch'
import { Connection } from '../net/connection.ts'
import { deriveFileId } from '../protocol/file-id.ts'
import type { CatalogEntry, Message } from '../protocol/messages.ts'
import type { LingerEnd } from '../peer/linger.ts'
import { MAX_PIPELINE } from '../peer/link-pacing.ts'
import { PeerNode, type PeerNodeOptions } from '../peer/peer.ts'
import { hashFile } from '../storage/hasher.ts'
import { tuneV8ForTransfers } from '../util/v8-tuning.ts'
import { directWriter } from '../storage/direct-io.ts'
import { RealStore } from '../storage/real-store.ts'
import { verifySegment } from '../storage/verify.ts'
import { Tracker } from '../tracker/server.ts'
import { formatBytes, ProgressReporter, type ProgressMode } from './progress.ts'

/** Where output goes (injectable for tests). */
export interface Io { out: (s: string) => void, err: (s: string) => void }

/** Parses HOST:PORT (IPv6 as [addr]:port). */
export function parseHostPort (text: string): { host: string, port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(text)
  const port = Number(m?.[3])
  if (m === null || port < 1 || port > 65535) throw new RangeError(`expected HOST:PORT, got "${text}"`)
  return { host: (m[1] ?? m[2]) as string, port }
}

/** Resolves when the process gets SIGINT or SIGTERM. */
export async function untilSignal (): Promise<NodeJS.Signals> {
  return await new Promise(resolve => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(sig)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** Common peer options of share and get. */
export interface PeerCliOptions {
  tracker: string
  host?: string
  port?: number
  advertise?: string
  secret?: string | null
  uploadLimit?: number | null
  /** Seconds to keep trying to reach a lost tracker. Default 60. */
  reconnectFor?: number
  requestTimeout?: number
  maxConnections?: number
  maxRequests?: number
  handshakeTimeout?: number
  idleTimeout?: number
  /** Files the store keeps open at once (see FileHandles). */
  maxOpenFiles?: number
  /** Tune V8 for the transfer once start-up work is done (see tuneV8ForTransfers): the `dfss` executable does, in-process callers need not. */
  tuneV8?: boolean
}

/**
 * Requests `dfss get` keeps in flight per source at most (fewer with many sources: REQUESTS_PER_FILE).
 * A shallow queue keeps the end of a rate-limited swarm short: at the end everybody asks the few holders
 * of the last segments, and a request queued behind others at a 20 MiB/s peer waits 50 ms per segment
 * ahead of it. Measured with scripts/perf/swarm-run.sh, 256 MiB, 20 MiB/s caps: N = 15 median 16.0 s
 * with 2 against 17.3 s with 4 (5 runs each); N = 7 14.0 s either way; raw 1 GiB (no cap) 7.3-9.0 s
 * against 9.5-9.7 s. (Earlier, with 8: N = 7 14.8-15.3 s against 13.8-14.2 s with 4.)
 */
export const PIPELINE_PER_SOURCE = 2

/**
 * Requests `dfss get` aims to keep in flight per file, spread over the sources that hold any segment
 * (at most PIPELINE_PER_SOURCE each): from 6 such sources on, one request each. In a capped swarm
 * every source is asked by most peers, so its queue is (requesters × depth) segments long. Measured
 * with swarm-run.sh, 256 MiB, 20 MiB/s caps, alternating with 2 per source: N = 15 (13 sources),
 * together with the background flushes of real-store.ts, tail after the seed's last segment
 * 0.63-0.93 s against 1.12-2.07 s (6 pairs); N = 7 (7 sources) 0.20-0.26 s against 0.31-0.45 s
 * (3 pairs). With few sources (raw speed: 3) two stay in flight at each.
 */
export const REQUESTS_PER_FILE = 6

/**
 * Bytes of segments `dfss get` has requested and not yet handed to its store, over all files: sixteen
 * 1 MiB segments (as many as its 16 requests), eight 2 MiB ones; but REQUESTS_PER_FILE requests may
 * always be out, so that segments of up to 16 MiB (`share --segment-size`) still come from several
 * sources at once. A request counts until its segment is queued for the disk, so while the disk lags,
 * segments received pile up to this much at most. With a count alone, 2 MiB segments let a getter
 * hold 32 of them at once (64 MiB of segment memory, recent segments included) and peak at 127-145
 * MiB resident.
 */
export const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024

/**
 * The deepest pipeline an honest getter keeps per connection: a source far away gets up to this many
 * requests (see LinkPacing), so `--max-requests` may not go below it. (Protocol version 2 kept 4.)
 */
export const HONEST_PIPELINE = MAX_PIPELINE

/**
 * `dfss get --linger`: the longest a finished getter keeps serving peers still downloading its files.
 * It leaves sooner when they are all done (asked of the tracker every LINGER_POLL_MS) or when nobody
 * has asked it for a segment for LINGER_IDLE_MS. Without it, the first peers to finish take their
 * copies away just when the last ones need them: at N = 15 the stragglers were left queueing at the
 * seed for the last segments.
 */
export const DEFAULT_LINGER_S = 10
const LINGER_POLL_MS = 50
const LINGER_IDLE_MS = 1000

const LINGER_END_TEXT: Record<LingerEnd, string> = {
  'swarm-complete': 'every peer has the files',
  idle: 'nobody asked for a second',
  'time-limit': 'time limit (--linger)',
  stopped: 'interrupted',
  'tracker-error': 'lost the tracker'
}

function peerOptions (o: PeerCliOptions): Omit<PeerNodeOptions, 'store' | 'rank' | 'download'> {
  return {
    reconnectForMs: (o.reconnectFor ?? 60) * 1000,
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
    ...(o.maxRequests !== undefined ? { maxRequestsPerConnection: o.maxRequests } : {}),
    ...(o.handshakeTimeout !== undefined ? { handshakeTimeoutMs: o.handshakeTimeout * 1000 } : {}),
    ...(o.idleTimeout !== undefined ? { idleTimeoutMs: o.idleTimeout * 1000 } : {}),
    tracker: parseHostPort(o.tracker),
    listenHost: o.host ?? '0.0.0.0',
    listenPort: o.port ?? 0,
    ...(o.advertise !== undefined ? { advertiseHost: o.advertise } : {}),
    secret: o.secret ?? null,
    uploadLimit: o.uploadLimit ?? null
  }
}

/** `dfss tracker`: a long-running tracker until SIGINT/SIGTERM. */
export async function runTracker (o: { host: string, port: number, secret: string | null, maxConnections?: number, maxFilesPerPeer?: number, handshakeTimeoutMs?: number }, io: Io, stop: Promise<unknown> = untilSignal()): Promise<number> {
  const tracker = new Tracker({
    secret: o.secret,
    ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
    ...(o.maxFilesPerPeer !== undefined ? { maxFilesPerPeer: o.maxFilesPerPeer } : {}),
    ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {})
  })
  tracker.on('warning', (e: Error) => { io.err(`dfss tracker: ${e.message}`) })
  const addr = await tracker.listen(o.host, o.port)
  io.out(`dfss tracker listening on ${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}\n`)
  await stop
  await tracker.close()
  io.out('dfss tracker stopped\n')
  return 0
}

/** Lists the files to share: a file as its base name, a directory as the files under it by relative path. */
export async function collectShares (paths: string[]): Promise<Array<{ file: string, name: string }>> {
  const out: Array<{ file: string, name: string }> = []
  for (const p of paths) {
    const st = await stat(p)
    if (st.isFile()) { out.push({ file: p, name: path.basename(p) }); continue }
    if (!st.isDirectory()) throw new Error(`${p}: not a file or directory`)
    const entries = (await readdir(p, { recursive: true, withFileTypes: true })).filter(e => e.isFile())
    for (const e of entries) {
      const full = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)
      out.push({ file: full, name: path.relative(p, full).split(path.sep).join('/') })
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** `dfss share PATH...`: hashes the files, registers them and serves until SIGINT/SIGTERM. */
export async function runShare (paths: string[], o: PeerCliOptions & { segmentSize?: number }, io: Io, stop: Promise<unknown> = untilSignal()): Promise<number> {
  const store = new RealStore(process.cwd(), { ...(o.maxOpenFiles !== undefined ? { maxOpenFiles: o.maxOpenFiles } : {}) })
  const shares = await collectShares(paths)
  if (shares.length === 0) throw new Error('nothing to share')
  for (const s of shares) {
    const t0 = performance.now()
    const meta = await hashFile(s.file, s.name, o.segmentSize)
    await store.addShared(s.file, meta)
    io.out(`hashed ${s.name}: ${formatBytes(meta.size)}, ${meta.hashes.length / 32} segments of ${formatBytes(meta.segmentSize)}, id ${deriveFileId(meta).slice(0, 16)}, in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`)
  }
  if (o.tuneV8 === true) tuneV8ForTransfers()
  const node = new PeerNode({ store, rank: 0, ...peerOptions(o), download: { verify: verifySegment } })
  node.on('warning', (e: Error) => { io.err(`dfss share: ${e.message}`) })
  try {
    await node.start([])
  } catch (err) {
    await node.stop()
    throw err
  }
  io.out(`sharing ${shares.length} file${shares.length === 1 ? '' : 's'} as peer ${node.id} (tracker ${o.tracker})\n`)
  const lost = new Promise<Error>(resolve => node.once('tracker-lost', resolve))
  const why = await Promise.race([stop, lost])
  await node.stop()
  if (why instanceof Error) { io.err(`dfss share: lost the tracker: ${why.message}`); return 1 }
  io.out(`stopped; uploaded ${node.uploader.uploads} segments\n`)
  return 0
}

/** Catalog names matching any of the patterns (a literal name or a glob); throws naming a pattern that matches nothing. */
export function resolvePatterns (catalog: CatalogEntry[], patterns: string[]): string[] {
  const names: string[] = []
  for (const p of patterns) {
    const isMatch = picomatch(p, { dot: true })
    const hits = catalog.filter(e => e.name === p || isMatch(e.name)).map(e => e.name)
    if (hits.length === 0) throw new Error(`no file in the tracker's catalog matches "${p}"`)
    for (const h of hits) if (!names.includes(h)) names.push(h)
  }
  return names
}

/**
 * `dfss get`: downloads matching files into `out`, serving what it has meanwhile; then stays while
 * peers still downloading need it (at most `linger` seconds); `--seed` keeps serving until interrupted.
 */
export async function runGet (patterns: string[], o: PeerCliOptions & { out: string, seed?: boolean, linger?: number, directIo?: boolean, progress: ProgressMode }, io: Io, stop: Promise<unknown> = untilSignal()): Promise<number> {
  const lingerS = o.linger ?? DEFAULT_LINGER_S
  if (o.tuneV8 === true) tuneV8ForTransfers()
  const store = new RealStore(path.resolve(o.out), { directIo: o.directIo ?? true, ...(o.maxOpenFiles !== undefined ? { maxOpenFiles: o.maxOpenFiles } : {}) })
  const node = new PeerNode({ store, rank: 0, ...peerOptions(o), download: { verify: verifySegment, perSourceLimit: PIPELINE_PER_SOURCE, requestsPerFile: REQUESTS_PER_FILE, maxInFlight: 16, maxInFlightBytes: MAX_IN_FLIGHT_BYTES, minInFlight: REQUESTS_PER_FILE, ...(o.requestTimeout !== undefined ? { requestTimeoutMs: o.requestTimeout * 1000 } : {}) } })
  node.on('warning', (e: Error) => { if (o.progress !== 'tty') io.err(`dfss get: ${e.message}`) })
  const t0 = performance.now()
  try {
    await node.start([])
    // Names without glob syntax stand for themselves: no catalog round trip before the first request
    // (the swarm answer says whether the tracker knows the file).
    const names = patterns.every(p => !picomatch.scan(p).isGlob)
      ? [...new Set(patterns)]
      : resolvePatterns(await (node.tracker as NonNullable<typeof node.tracker>).catalog(''), patterns)
    const progress = new ProgressReporter(node.downloader as NonNullable<typeof node.downloader>, o.progress, io.out)
    const stopped = stop.then(() => { throw new Error('interrupted') })
    try {
      await Promise.race([node.downloadAll(names), stopped])
    } finally {
      progress.stop()
    }
    node.reportFinished()
    const secs = (performance.now() - t0) / 1000
    const summary = summarize(node)
    if (o.progress === 'json') io.out(JSON.stringify({ t: Date.now(), event: 'summary', seconds: secs, transfers: node.transfers(), directBytes: directWriter.bytes }) + '\n')
    else io.out(`downloaded ${names.length} file${names.length === 1 ? '' : 's'} in ${secs.toFixed(2)} s\n${summary}`)
    if (o.seed === true) {
      io.out(`seeding as peer ${node.id} until interrupted\n`)
      await stop
    } else if (lingerS > 0) {
      const t1 = performance.now()
      const uploads = node.uploader.uploads
      const why = await node.linger(names, { maxMs: lingerS * 1000, idleMs: LINGER_IDLE_MS, pollMs: LINGER_POLL_MS }, stop)
      const stayed = (performance.now() - t1) / 1000
      const served = node.uploader.uploads - uploads
      if (o.progress === 'json') io.out(JSON.stringify({ t: Date.now(), event: 'linger', seconds: stayed, reason: why, uploads: served }) + '\n')
      else if (why !== 'swarm-complete' || served > 0) io.out(`stayed ${stayed.toFixed(2)} s for peers still downloading, uploaded ${served} segments; left: ${LINGER_END_TEXT[why]}\n`)
    }
    return 0
  } finally {
    await node.stop()
  }
}

function summarize (node: PeerNode): string {
  const lines: string[] = []
  const byFile = new Map<string, Array<{ from: number, segments: number }>>()
  for (const t of node.transfers()) byFile.set(t.file, [...(byFile.get(t.file) ?? []), { from: t.from, segments: t.segments }])
  for (const [file, list] of byFile) {
    const parts = list.sort((a, b) => b.segments - a.segments).map(x => `${x.segments} from peer ${x.from}${node.downloader?.sourceAddress(x.from) !== undefined ? ` (${node.downloader.sourceAddress(x.from) as string})` : ''}`)
    lines.push(`  ${file}: ${parts.join(', ')}\n`)
  }
  return lines.join('')
}

/** `dfss ls`: the tracker's catalog. */
export async function runLs (o: { tracker: string, pattern: string, secret: string | null, json: boolean }, io: Io): Promise<number> {
  const { host, port } = parseHostPort(o.tracker)
  const conn = await Connection.connect(host, port, { role: 'client', id: 0, secret: o.secret })
  const entries = await new Promise<CatalogEntry[]>((resolve, reject) => {
    conn.on('message', (m: Message) => {
      if (m.type === 'catalog') resolve(m.entries)
      else if (m.type === 'error') reject(new Error(m.message))
    })
    conn.on('close', (e?: Error) => reject(e ?? new Error('the tracker closed the connection')))
    conn.start()
    conn.send({ type: 'req-catalog', pattern: o.pattern })
  })
  await conn.close()
  if (o.json) { io.out(JSON.stringify(entries) + '\n'); return 0 }
  const rows = [['NAME', 'SIZE', 'SEGMENTS', 'SEEDS', 'PEERS'], ...entries.map(e => [e.name, formatBytes(e.size), String(e.segments), String(e.seeds), String(e.peers)])]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  for (const r of rows) io.out(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n')
  if (entries.length === 0) io.out(`(no file${o.pattern !== '' ? ` matches "${o.pattern}"` : ''})\n`)
  return 0
}
