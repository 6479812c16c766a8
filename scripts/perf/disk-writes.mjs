#!/usr/bin/env node
// Cost of writing a download to disk the two ways `dfss get` can: 1 MiB positional writes into a
// sparse file in random order, through the page cache or with O_DIRECT from page-aligned memory, then
// one fsync. Prints wall time of the writes, of the fsync, and the process's CPU time.
// Run several at once (one file each) to see what concurrent getters pay.
// Usage: node disk-writes.mjs direct|buffered FILE [MiB=1024]
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
const cpu0 = process.cpuUsage()
const t0 = performance.now()
for (const i of order) await out.write(memory, 0, SEG, i * SEG)
const t1 = performance.now()
await fh.sync()
const t2 = performance.now()
const cpu = process.cpuUsage(cpu0)
console.log(`${mode}: ${n} MiB written in ${Math.round(t1 - t0)} ms, fsync ${Math.round(t2 - t1)} ms, CPU ${(cpu.user / 1e6).toFixed(2)} s user + ${(cpu.system / 1e6).toFixed(2)} s system`)
if (out !== fh) await out.close()
await fh.close()
await rm(file)
