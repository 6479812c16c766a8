// 1 GiB of 1 MiB positional writes to a new file with P writes in flight; prints wall and CPU time.
// Usage: node scripts/perf/pwrite-contention.mjs FILE [P]   (compare P = 1 and 4)
import { open, rm } from 'node:fs/promises'
const [file, par = '1'] = process.argv.slice(2)
const fh = await open(file, 'w+')
await fh.truncate(1 << 30)
const bufs = Array.from({ length: 16 }, () => Buffer.alloc(1 << 20, 7))
let next = 0
const t0 = performance.now()
await Promise.all(Array.from({ length: Number(par) }, async () => {
  while (next < 1024) { const i = next++; await fh.write(bufs[i % 16], 0, 1 << 20, i * (1 << 20)) }
}))
const { user, system } = process.cpuUsage()
console.log(`${par} in flight: ${(performance.now() - t0).toFixed(0)} ms, user ${(user / 1e3).toFixed(0)} ms, system ${(system / 1e3).toFixed(0)} ms`)
await fh.close()
await rm(file)
