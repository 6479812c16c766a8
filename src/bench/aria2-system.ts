/**
 * aria2 as the reference BitTorrent client: mktorrent makes the .torrent, the npm `bittorrent-tracker`
 * server runs the tracker in this process on loopback, one aria2c seeds and N aria2c download.
 * DHT, DHT6 and local peer discovery are off, so peers come only from the tracker (and PEX).
 */
import { once } from 'node:events'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type Server from 'bittorrent-tracker/server'
import type { AnnounceParams } from 'bittorrent-tracker/server'
import { fileSize } from './files.ts'
import { cpuSince, cpuSnapshot, failedRun, peakRssByRole, type SwarmSetup } from './measure.ts'
import { ProcessSet, type BenchProcess } from './proc.ts'
import type { SystemRun } from './results.ts'
import { runQuiet } from './tools.ts'
import { defaultSegmentSize } from '../storage/hasher.ts'

const MKTORRENT_TIMEOUT_MS = 300_000
const SEED_READY_MS = 30_000
const POLL_MS = 20
/** log2 of the piece size of a torrent of `fileBytes`: the segment size `dfss share` picks for that file (mktorrent -l). */
export function pieceLengthLog2 (fileBytes: number): number {
  return Math.log2(defaultSegmentSize(fileBytes))
}

/** aria2c flags shared by the seed and the downloaders: a closed loopback swarm. */
export function aria2CommonArgs (o: { port: number, dir: string, uploadLimit: number | null, parentPid: number }): string[] {
  return [
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--disable-ipv6=true',
    '--interface=127.0.0.1', `--listen-port=${o.port}`, `--dir=${o.dir}`,
    '--seed-ratio=0.0', '--file-allocation=none', '--check-certificate=false',
    '--console-log-level=warn', '--summary-interval=0', '--show-console-readout=false', '--auto-save-interval=0',
    // dies with the benchmark even if that is killed hard
    `--stop-with-process=${o.parentPid}`,
    ...(o.uploadLimit !== null ? [`--max-upload-limit=${Math.round(o.uploadLimit)}`, `--max-overall-upload-limit=${Math.round(o.uploadLimit)}`] : [])
  ]
}

/** `count` distinct free TCP ports on 127.0.0.1 (held open together so they differ, then released). */
export async function freePorts (count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
    return s
  }))
  const ports = servers.map(s => (s.address() as AddressInfo).port)
  await Promise.all(servers.map(async s => { s.close(); await once(s, 'close') }))
  return ports
}

async function startTracker (): Promise<{ server: Server, announce: string }> {
  // Loaded only here: it is a devDependency, and `dfss` itself must start without it.
  const { default: TrackerServer } = await import('bittorrent-tracker/server')
  const server = new TrackerServer({ http: true, udp: false, ws: false, stats: false })
  server.on('warning', () => { /* bad announces are the client's problem; keep serving */ })
  const listening = once(server, 'listening')
  server.listen(0, '127.0.0.1')
  await listening
  const port = (server.http?.address() as AddressInfo).port
  return { server, announce: `http://127.0.0.1:${port}/announce` }
}

async function closeTracker (server: Server): Promise<void> {
  await Promise.race([new Promise<void>(resolve => { server.close(() => { resolve() }) }), sleep(3000)])
}

/** Resolves when the tracker sees a complete peer start (the seed); rejects after `ms` or if the seed dies. */
async function seedAnnounced (server: Server, seed: BenchProcess, ms: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { finish(new Error(`the aria2 seed did not announce within ${ms / 1000} s`)) }, ms)
    const onStart = (_addr: unknown, params: AnnounceParams): void => { if (Number(params.left) === 0) finish(null) }
    const finish = (err: Error | null): void => {
      clearTimeout(timer)
      server.off('start', onStart)
      if (err === null) resolve(); else reject(err)
    }
    server.on('start', onStart)
    void seed.exited.then(() => { finish(new Error(`the aria2 seed exited: ${seed.stderr.trim().slice(-300)}`)) })
  })
}

/** Waits until every downloader's completion hook has written its time (epoch ms); fails if any of `all` exits meanwhile. */
async function completions (files: string[], all: BenchProcess[], timeoutMs: number): Promise<number[]> {
  const deadline = performance.now() + timeoutMs
  const times: Array<number | null> = files.map(() => null)
  while (times.some(t => t === null)) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s (${times.filter(t => t !== null).length}/${files.length} complete)`)
    const dead = all.find(p => p.done)
    if (dead !== undefined) throw new Error(`the aria2 ${dead.role} exited during the transfer`)
    await Promise.all(files.map(async (f, i) => {
      if (times[i] !== null) return
      try {
        const ns = (await readFile(f, 'utf8')).trim().split('\n')[0] ?? ''
        if (/^[0-9]+$/.test(ns)) times[i] = Number(BigInt(ns) / 1_000_000n)
      } catch { /* not yet */ }
    }))
    if (times.some(t => t === null)) await sleep(POLL_MS)
  }
  return times as number[]
}

/** Runs one aria2 swarm and measures it (wall time to the last completion hook). */
export async function runAria2Swarm (s: SwarmSetup): Promise<SystemRun> {
  const bytes = s.fileBytes * s.downloaders
  if (s.tools.aria2c === null || s.tools.mktorrent === null) return failedRun('aria2c or mktorrent not available', bytes)
  const aria2c = s.tools.aria2c
  const procs = new ProcessSet(s.work)
  let tracker: Server | null = null
  try {
    const t = await startTracker()
    tracker = t.server
    const torrent = path.join(s.work, `${s.name}.torrent`)
    const mkStart = performance.now()
    const mk = await runQuiet(s.tools.mktorrent, ['-a', t.announce, '-l', String(pieceLengthLog2(s.fileBytes)), '-o', torrent, s.file], MKTORRENT_TIMEOUT_MS)
    if (mk.code !== 0) throw new Error(`mktorrent failed: ${mk.output.trim().slice(-300)}`)
    const prepS = (performance.now() - mkStart) / 1000
    const hook = path.join(s.work, 'on-complete.sh')
    await writeFile(hook, '#!/bin/sh\n# aria2 calls this when the download is complete, before seeding\ndate +%s%N >> "$BENCH_DONE_FILE"\n')
    await chmod(hook, 0o755)
    const ports = await freePorts(s.downloaders + 1)
    const common = (i: number, dir: string): string[] => aria2CommonArgs({ port: ports[i] as number, dir, uploadLimit: s.uploadLimit, parentPid: process.pid })
    const seed = procs.spawn(aria2c, [...common(0, path.dirname(s.file)), '--bt-seed-unverified=true', '--check-integrity=false', '-T', torrent], { role: 'seed', keepStdout: false })
    await seedAnnounced(tracker, seed, SEED_READY_MS)
    const base = await cpuSnapshot([seed])
    const wBase = await seed.writtenBytes()
    const doneFiles = Array.from({ length: s.downloaders }, (_, i) => path.join(s.work, `done-${i}`))
    const t0 = Date.now()
    const leechers = doneFiles.map((f, i) => procs.spawn(aria2c,
      [...common(i + 1, path.join(s.work, `get${i}`)), `--on-bt-download-complete=${hook}`, '-T', torrent],
      { role: 'getter', keepStdout: false, env: { BENCH_DONE_FILE: f } }))
    const times = await completions(doneFiles, [seed, ...leechers], s.timeoutMs)
    const wallS = (Math.max(...times) - t0) / 1000
    // CPU and uploads of the transfer, before the sync below (aria2 idles meanwhile, seeding).
    const cpuS = await cpuSince([seed, ...leechers], base)
    const wEnd = await seed.writtenBytes()
    // aria2 never syncs: until its copies are on disk, as DFSS's are when it reports them done (this
    // also keeps their write-back out of the next system's run).
    const copies = Array.from({ length: s.downloaders }, (_, i) => path.join(s.work, `get${i}`, s.name))
    const synced = s.tools.sync === null ? null : await runQuiet(s.tools.sync, copies, s.timeoutMs)
    const durableS = synced?.code === 0 ? (Date.now() - t0) / 1000 : null
    await procs.stopAll()
    for (let i = 0; i < s.downloaders; i++) {
      const size = await fileSize(path.join(s.work, `get${i}`, s.name))
      if (size !== s.fileBytes) throw new Error(`aria2 downloader ${i} has ${size} bytes of ${s.fileBytes}`)
    }
    // The seed writes nothing to disk, so what it wrote is (almost all) what it uploaded.
    const seedShare = wBase !== null && wEnd !== null ? (wEnd - wBase) / bytes : null
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs), seedShare, prepS, durableS }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
    if (tracker !== null) await closeTracker(tracker)
  }
}
