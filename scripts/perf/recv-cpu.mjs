#!/usr/bin/env node
// CPU the receiving side of one peer connection spends per MiB: a child process sends SEGMENTS CHUNK
// messages of 1 MiB over a handshaken Connection on loopback; this process receives them through
// Connection.connect (the getter's path), gives each buffer back to the pool as a getter does once
// the segment is written, and prints its wall time and CPU (user + sys).
// Usage: node scripts/perf/recv-cpu.mjs [SEGMENTS=2048] [DIST=dist of this checkout]   (needs `npm run build`)
import net from 'node:net'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = fileURLToPath(import.meta.url)
const [nArg = '2048', distArg = path.join(path.dirname(here), '..', '..', 'dist'), role] = process.argv.slice(2)
const n = Number(nArg)
const dist = path.resolve(distArg)
const { Connection } = await import(path.join(dist, 'src', 'net', 'connection.js'))
const { segmentBuffers } = await import(path.join(dist, 'src', 'util', 'buffer-pool.js'))
const opts = { role: 'peer', id: 1, secret: null, handshakeTimeoutMs: 5000 }

if (role === 'sender') {
  const data = Buffer.alloc(1 << 20, 7)
  const server = net.createServer(socket => {
    Connection.establish(socket, { ...opts, id: 2 }).then(async c => {
      c.start()
      for (let i = 0; i < n; i++) if (!c.send({ type: 'chunk', reqId: i, index: i, data })) await c.drained()
    }, () => socket.destroy())
  })
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
} else {
  const child = fork(here, [nArg, dist, 'sender'])
  const port = await new Promise(resolve => child.once('message', resolve))
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const c = await Connection.connect('127.0.0.1', port, opts)
  let got = 0
  let check = 0
  await new Promise(resolve => {
    c.on('message', m => {
      if (m.type !== 'chunk') return
      check += m.data[m.data.length - 1]
      segmentBuffers.give(m.data) // done with it, as a getter once the segment is written
      if (++got === n) resolve()
    })
    c.start()
  })
  const cpu = process.cpuUsage(cpu0)
  console.log(`${dist}: received ${n} MiB in ${(performance.now() - t0).toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, sys ${(cpu.system / 1000).toFixed(0)})${check === 7 * n ? '' : ', WRONG DATA'}`)
  child.kill()
  process.exit(check === 7 * n ? 0 : 1)
}
