import { createHash, randomBytes } from '../util/crypto.ts'
import { createReadStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PeerNode } from '../peer/peer.ts'
import { hashFile } from '../storage/hasher.ts'
import { RealStore } from '../storage/real-store.ts'
import { verifySegment } from '../storage/verify.ts'
import { Tracker } from '../tracker/server.ts'
import { createBars, formatBytes, ProgressReporter, type ProgressMode } from './progress.ts'

const DEMO_FILES: Array<[string, number]> = [['videos/talk.bin', 48 * 1024 * 1024], ['data/table.csv', 6 * 1024 * 1024], ['docs/readme.txt', 2000]]
const RATE = 64 * 1024 * 1024

async function sha256 (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/**
 * The real-file half of the demo, in one process: a tracker, a seed and three getters on loopback, every
 * upload capped at 64 MiB/s so the getters visibly trade segments among themselves.
 */
export async function runRealDemo (dir: string, mode: ProgressMode, out: (s: string) => void): Promise<boolean> {
  const src = path.join(dir, 'seed')
  for (const [name, size] of DEMO_FILES) {
    await mkdir(path.dirname(path.join(src, name)), { recursive: true })
    await writeFile(path.join(src, name), randomBytes(size))
  }
  const tracker = new Tracker()
  const addr = await tracker.listen('127.0.0.1', 0)
  const seedStore = new RealStore(path.join(dir, 'unused'))
  for (const [name] of DEMO_FILES) await seedStore.addShared(path.join(src, name), await hashFile(path.join(src, name), name))
  const seed = new PeerNode({ store: seedStore, tracker: addr, rank: 0, uploadLimit: RATE, download: { verify: verifySegment } })
  await seed.start()
  out(`== Real files: tracker ${addr.host}:${addr.port}, seed peer ${seed.id} sharing ${DEMO_FILES.map(([n, s]) => `${n} (${formatBytes(s)})`).join(', ')}\n`)
  out(`   three getters download everything at once; every upload is capped at ${formatBytes(RATE)}/s\n`)
  const getters = [1, 2, 3].map(k => new PeerNode({ store: new RealStore(path.join(dir, `getter${k}`)), tracker: addr, rank: 0, uploadLimit: RATE, download: { verify: verifySegment, perSourceLimit: 8, maxInFlight: 32 } }))
  await Promise.all(getters.map(async g => { await g.start() }))
  const bars = mode === 'tty' ? createBars() : undefined
  const reporters = getters.map(g => new ProgressReporter(g.downloader as NonNullable<typeof g.downloader>, mode, out, { ...(bars !== undefined ? { shared: bars } : {}), label: `peer ${g.id}: ` }))
  const t0 = performance.now()
  try {
    await Promise.all(getters.map(async g => { await g.downloadAll(DEMO_FILES.map(([n]) => n)) }))
  } finally {
    for (const r of reporters) r.stop()
    bars?.stop()
  }
  const secs = (performance.now() - t0) / 1000
  const total = DEMO_FILES.reduce((a, [, s]) => a + s, 0) * getters.length
  out(`${formatBytes(total)} delivered in ${secs.toFixed(2)} s; who sent what to whom (segments):\n`)
  let ok = true
  for (const g of getters) {
    const bySource = new Map<number, number>()
    for (const t of g.transfers()) bySource.set(t.from, (bySource.get(t.from) ?? 0) + t.segments)
    const parts = [...bySource.entries()].sort((a, b) => b[1] - a[1]).map(([from, n]) => `${n} from ${from === seed.id ? 'the seed' : `peer ${from}`}`)
    out(`  peer ${g.id}: ${parts.join(', ')}\n`)
    for (const [name] of DEMO_FILES) {
      if (await sha256(path.join(dir, `getter${getters.indexOf(g) + 1}`, name)) !== await sha256(path.join(src, name))) { out(`  peer ${g.id}: ${name} differs!\n`); ok = false }
    }
  }
  out(`  seed uploaded ${seed.uploader.uploads} segments; peers uploaded ${getters.map(g => g.uploader.uploads).join(', ')}\n`)
  if (ok) out('every downloaded file is byte-for-byte identical to the original\n')
  await Promise.all([...getters, seed].map(async p => { await p.stop() }))
  await tracker.close()
  return ok
}
