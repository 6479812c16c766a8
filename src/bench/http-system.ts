/** The no-P2P reference: one node:http server streams the file, every downloader fetches all of it. */
import path from 'node:path'
import { fileSize } from './files.ts'
import { cpuSince, cpuSnapshot, failedRun, lastExitMs, peakRssByRole, waitAllOk, type SwarmSetup } from './measure.ts'
import { ProcessSet } from './proc.ts'
import type { SystemRun } from './results.ts'

const SERVER_START_MS = 15_000

/** The server, run with `node -e SCRIPT FILE`: prints "port N", serves FILE at any path with a stream. */
const SERVER_SCRIPT = `
const http = require('node:http'), fs = require('node:fs')
const file = process.argv[1], size = fs.statSync(file).size
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size })
  fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res)
})
server.listen(0, '127.0.0.1', () => { console.log('port ' + server.address().port) })
process.on('SIGTERM', () => process.exit(0))
`

/** A client for when curl is missing, run with `node -e SCRIPT URL OUT`. */
const CLIENT_SCRIPT = `
const http = require('node:http'), fs = require('node:fs')
http.get(process.argv[1], res => {
  if (res.statusCode !== 200) process.exit(1)
  res.pipe(fs.createWriteStream(process.argv[2])).on('finish', () => process.exit(0))
}).on('error', () => process.exit(1))
`

/** Runs one HTTP distribution and measures it. */
export async function runHttpSwarm (s: SwarmSetup): Promise<SystemRun> {
  const procs = new ProcessSet(s.work)
  const bytes = s.fileBytes * s.downloaders
  try {
    const server = procs.spawn(process.execPath, ['-e', SERVER_SCRIPT, s.file], { role: 'server' })
    const port = (await server.waitForLine(/^port ([0-9]+)/, SERVER_START_MS))[1] as string
    const url = `http://127.0.0.1:${port}/${encodeURIComponent(s.name)}`
    const base = await cpuSnapshot([server])
    const outs = Array.from({ length: s.downloaders }, (_, i) => path.join(s.work, `get${i}`))
    const t0 = performance.now()
    const clients = outs.map(out => s.tools.curl !== null
      ? procs.spawn(s.tools.curl, ['-sS', '--fail', '--create-dirs', '-o', path.join(out, s.name), url], { role: 'client', keepStdout: false })
      : procs.spawn(process.execPath, ['-e', `require('node:fs').mkdirSync(${JSON.stringify(out)}, { recursive: true });` + CLIENT_SCRIPT, url, path.join(out, s.name)], { role: 'client', keepStdout: false }))
    await waitAllOk(clients, s.timeoutMs, [server])
    const wallS = (lastExitMs(clients) - t0) / 1000
    const cpuS = await cpuSince([server, ...clients], base)
    await procs.stopAll()
    for (const out of outs) {
      const size = await fileSize(path.join(out, s.name))
      if (size !== s.fileBytes) throw new Error(`HTTP client has ${size} bytes of ${s.fileBytes}`)
    }
    return { ok: true, wallS, cpuS, bytes, peakRssKiB: await peakRssByRole(procs.procs) }
  } catch (err) {
    return failedRun(err, bytes, procs.procs)
  } finally {
    await procs.stopAll()
  }
}
