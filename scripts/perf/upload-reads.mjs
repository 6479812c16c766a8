#!/usr/bin/env node
// CPU a peer spends reading back segments it downloaded, to upload them: writes SEGMENTS 1 MiB
// segments through a RealStore download (past the page cache where the system allows, as `dfss get`
// does), then reads every one back in random order with no recent-segment memory, as uploads of
// segments no longer in memory are served, and prints the reads' wall time and CPU (user + sys).
// Usage: node scripts/perf/upload-reads.mjs [SEGMENTS=512] [DIST=dist of this checkout] [DIR=os tmpdir]
// (needs `npm run build`; DIR must be on a real disk, not tmpdir on tmpfs, to measure direct I/O)
import { createHash, randomFillSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const [nArg = '512', distArg = path.join(here, '..', '..', 'dist'), dirArg = os.tmpdir()] = process.argv.slice(2)
const n = Number(nArg)
const dist = path.resolve(distArg)
const { RealStore } = await import(path.join(dist, 'src', 'storage', 'real-store.js'))
const { segmentBuffers } = await import(path.join(dist, 'src', 'util', 'buffer-pool.js'))
const seg = 1 << 20
const data = Buffer.alloc(seg)
const hashes = Buffer.alloc(32 * n)
const segments = []
for (let i = 0; i < n; i++) {
  randomFillSync(data)
  createHash('sha256').update(data).digest().copy(hashes, 32 * i)
  segments.push(Buffer.from(data))
}
const meta = { name: 'reads.bin', size: n * seg, segmentSize: seg, algo: 'sha256', hashes }
const dir = await mkdtemp(path.join(dirArg, 'dfss-reads-'))
try {
  const store = new RealStore(dir, { recentBytes: 0 })
  const file = await store.openDownload(meta)
  for (let i = 0; i < n; i++) {
    const buf = segmentBuffers.take(seg)
    segments[i].copy(buf)
    const { written } = await file.write(i, buf)
    segmentBuffers.give(buf)
    await written
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(() => Math.random() - 0.5)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let bad = 0
  // Four reads in flight, as an uploader serving several peers has.
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < n) {
      const i = order[next++]
      const got = await file.read(i)
      if (!got.equals(segments[i])) bad++
      segmentBuffers.give(got)
    }
  }))
  const cpu = process.cpuUsage(cpu0)
  console.log(`${dist}: read ${n} MiB in ${(performance.now() - t0).toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, sys ${(cpu.system / 1000).toFixed(0)})${bad === 0 ? '' : `, ${bad} WRONG`}`)
  await store.close()
  process.exitCode = bad === 0 ? 0 : 1
} finally {
  await rm(dir, { recursive: true, force: true })
}
