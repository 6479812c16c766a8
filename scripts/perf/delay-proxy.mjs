#!/usr/bin/env node
// A TCP relay that delays every byte by DELAY_MS in each direction (a round trip of twice that), for
// measuring DFSS over a long link on loopback (the kernel here has no netem). Prints the port it
// listens on, then relays every connection to TARGET until killed.
// Usage: node scripts/perf/delay-proxy.mjs TARGET_HOST:PORT DELAY_MS [LISTEN_HOST [LISTEN_PORT]]
import net from 'node:net'

const [target, delayArg, listenHost, listenPort] = process.argv.slice(2)
const m = /^(.+):([0-9]+)$/.exec(target ?? '')
const delay = Number(delayArg)
if (m === null || !(delay >= 0)) {
  console.error('usage: delay-proxy.mjs TARGET_HOST:PORT DELAY_MS [LISTEN_HOST [LISTEN_PORT]]')
  process.exit(2)
}

/** Copies `from` to `to`, each chunk `delay` ms after it arrived; reading pauses while 64 MiB wait. */
function relay (from, to) {
  let waiting = 0
  from.on('data', chunk => {
    waiting += chunk.length
    if (waiting > 64 * 1024 * 1024) from.pause()
    setTimeout(() => {
      waiting -= chunk.length
      if (!to.destroyed) to.write(chunk)
      if (waiting <= 64 * 1024 * 1024) from.resume()
    }, delay)
  })
  from.on('end', () => setTimeout(() => to.end(), delay))
  from.on('error', () => to.destroy())
  from.on('close', () => setTimeout(() => to.destroy(), delay + 10))
}

const server = net.createServer({ noDelay: true }, inbound => {
  const outbound = net.connect({ host: m[1], port: Number(m[2]), noDelay: true })
  relay(inbound, outbound)
  relay(outbound, inbound)
})
server.listen(Number(listenPort ?? 0), listenHost ?? '127.0.0.1', () => { console.log(server.address().port) })
