#!/usr/bin/env node
// Cost of writing a download to disk the two ways `dfss get` can: 1 MiB positional writes into a
// sparse file in random order, through the page cache or with O_DIRECT from page-aligned memory, then
// one fsync. Prints wall time of the writes, of the fsync, the slowest single write and the process's
// CPU time. Run several at once (one file each) to see what concurrent getters pay.
// With RATE (MiB/s) the writes are paced like a capped download. Fifteen at 20 MiB/s, of different
// sizes, show a flush stalling every writer on the device: the first fsync flushes what all of them
// wrote since the last flush, and the others' slowest writes take as long as it.
// Usage: [RATE=MiB/s] node disk-writes.mjs direct|buffered FILE [MiB=1024]
import { constants } from 'node:fs'
import { open, rm } from 'node:fs/promises'

const [mode, file, mib = '1024'] = process.argv.slice(2)
if ((mode !== 'direct' && mode !== 'buffered') || file === undefined) {
  console.error('usage: node disk-writes.mjs direct|buffered FILE [MiB]')
  process.exit(2)
}
const SEG = 1 << 20
const n = Number(mib)
const memory = Buffer.from(new WebAssembly.Memory({ initial: SEG / 65536, maximum: SEG / 65536 }).buffer)
memory.fill(0x5a)
const fh = await open(file, 'w+')
await fh.truncate(n * SEG)
const out = mode === 'direct' ? await open(file, constants.O_WRONLY | constants.O_DIRECT) : fh
const order = [...Array(n).keys()]
for (let i = n - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [order[i], order[j]] = [order[j], order[i]] }
const rate = Number(process.env.RATE ?? 0)
const cpu0 = process.cpuUsage()
const t0 = performance.now()
let slowest = 0
for (const [k, i] of order.entries()) {
  const wait = rate > 0 ? t0 + (k * 1000) / rate - performance.now() : 0
  if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  const w = performance.now()
  await out.write(memory, 0, SEG, i * SEG)
  slowest = Math.max(slowest, performance.now() - w)
}
const t1 = performance.now()
await fh.sync()
const t2 = performance.now()
const cpu = process.cpuUsage(cpu0)
console.log(`${mode}: ${n} MiB written in ${Math.round(t1 - t0)} ms, fsync ${Math.round(t2 - t1)} ms, slowest write ${Math.round(slowest)} ms, CPU ${(cpu.user / 1e6).toFixed(2)} s user + ${(cpu.system / 1e6).toFixed(2)} s system`)
if (out !== fh) await out.close()
await fh.close()
await rm(file)
