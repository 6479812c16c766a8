// Helpers of the fault suite (test/faults/faults.test.ts): the fault tally printed at the end, a guard
// that watches an output directory so no final name is ever seen half-written, file descriptor counts,
// and raw protocol clients (tracker discovery, handshakes, have-maps) built on src/net/connection.ts.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { watch, readdirSync, type FSWatcher } from 'node:fs'
import { mkdir, open, stat } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { Connection, type ConnectionOptions } from '../../src/net/connection.ts'
import type { Member, Message } from '../../src/protocol/messages.ts'
import { BIN } from '../helpers/cli.ts'
import { defer, sha256File, spawnDfss, spawnUntil, type LongRunning } from '../helpers/proc.ts'

export const LOOPBACK = ['--host', '127.0.0.1']
export const SEGMENT_BYTES = 64 * 1024

/** Environment of every spawned process: no secret leaks in from the caller's environment. */
export const CLEAN_ENV: NodeJS.ProcessEnv = { DFSS_SECRET: '', NODE_DEBUG: '' }

// ---------------------------------------------------------------------------------------------
// The tally: what was injected, which honest runs survived it, and how many bytes were lost.
// ---------------------------------------------------------------------------------------------

/** Counts shared by every test of the suite (one file: node --test runs each file in its own process). */
export const tally = {
  injected: new Map<string, number>(),
  survived: 0,
  expectedBytes: 0,
  deliveredBytes: 0
}

/** Records `n` injected faults of a kind. */
export function inject (kind: string, n = 1): void {
  tally.injected.set(kind, (tally.injected.get(kind) ?? 0) + n)
}

/**
 * An honest run that must survive the faults: `bytes` are expected; they count as delivered only
 * when `verify` (which asserts the outputs byte for byte) passes.
 */
export async function survives (bytes: number, verify: () => Promise<void>): Promise<void> {
  tally.expectedBytes += bytes
  await verify()
  tally.deliveredBytes += bytes
  tally.survived++
}

/** The final line: `faults: N injected, M runs survived, B bytes lost`. */
export function formatTally (): string {
  const total = [...tally.injected.values()].reduce((a, b) => a + b, 0)
  const kinds = [...tally.injected.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ')
  return `faults: ${total} injected, ${tally.survived} runs survived, ${tally.expectedBytes - tally.deliveredBytes} bytes lost\n` +
    `  injected: ${kinds}`
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** Writes `size` random bytes in 1 MiB chunks. */
export async function writeRandom (file: string, size: number): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true })
  const fh = await open(file, 'w')
  const h = createHash('sha256')
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(1024 * 1024, size - done))
      h.update(chunk)
      await fh.write(chunk)
      done += chunk.length
    }
  } finally {
    await fh.close()
  }
  return h.digest('hex')
}

export interface Expected { size: number, sha256: string }

/**
 * Watches `dir` (inotify) while a run writes into it: whenever one of the `expected` final names
 * exists, it must have the full size and the right hash, never a prefix or a mix. `close()` checks
 * once more and returns how many times a final name was seen; violations fail it.
 */
export class FinalGuard {
  readonly violations: string[] = []
  sightings = 0
  private readonly watcher: FSWatcher
  private readonly hashed = new Set<string>()
  private chain: Promise<void> = Promise.resolve()
  private readonly queued = new Set<string>()

  readonly dir: string
  readonly expected: Map<string, Expected>

  constructor (dir: string, expected: Map<string, Expected>) {
    this.dir = dir
    this.expected = expected
    this.watcher = watch(dir, { persistent: false, recursive: false }, (_event, name) => {
      if (name !== null && expected.has(String(name))) this.schedule(String(name))
    })
    this.watcher.on('error', () => {})
    for (const name of expected.keys()) this.schedule(name)
  }

  private schedule (name: string): void {
    if (this.queued.has(name)) return
    this.queued.add(name)
    this.chain = this.chain.then(async () => {
      this.queued.delete(name)
      await this.check(name)
    })
  }

  private async check (name: string): Promise<void> {
    const want = this.expected.get(name) as Expected
    const file = path.join(this.dir, name)
    const st = await stat(file).catch(() => null)
    if (st === null) return
    this.sightings++
    if (st.size !== want.size) { this.violations.push(`${name} visible with ${st.size} of ${want.size} bytes`); return }
    if (this.hashed.has(name)) return
    const sum = await sha256File(file).catch(() => null)
    if (sum === null) return // renamed away meanwhile
    if (sum !== want.sha256) this.violations.push(`${name} visible with the full size but the wrong content`)
    else this.hashed.add(name)
  }

  /** Stops watching, checks every name once more, and fails on any violation. */
  async close (): Promise<number> {
    this.watcher.close()
    for (const name of this.expected.keys()) this.schedule(name)
    await this.chain
    assert.deepEqual(this.violations, [], `a final name was visible half-written in ${this.dir}`)
    return this.sightings
  }
}

/** A FinalGuard closed (and asserted) at the latest when `t` ends. */
export function guardFinals (t: TestContext, dir: string, expected: Map<string, Expected>): FinalGuard {
  const g = new FinalGuard(dir, expected)
  defer(t, async () => { await g.close() })
  return g
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/** Open file descriptors of a process (Linux). */
export function countFds (pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** Sends SIGSTOP now and registers a SIGCONT for the end of `t` (before the process is stopped for good). */
export function freeze (t: TestContext, p: LongRunning): void {
  p.child.kill('SIGSTOP')
  defer(t, () => { if (p.exit === null) p.child.kill('SIGCONT') })
}

/** `dfss tracker` on 127.0.0.1 (port 0 unless given), with extra flags; resolves with HOST:PORT. */
export async function startTrackerWith (t: TestContext, extra: string[] = [], opts: { port?: number, env?: NodeJS.ProcessEnv, name?: string } = {}): Promise<{ proc: LongRunning, addr: string, port: number }> {
  const { proc, match } = await spawnUntil(t, opts.name ?? 'tracker', process.execPath,
    [BIN, 'tracker', ...LOOPBACK, '--port', String(opts.port ?? 0), ...extra],
    /dfss tracker listening on (127\.0\.0\.1:([0-9]+))\n/, { env: { ...CLEAN_ENV, ...opts.env } })
  return { proc, addr: match[1] as string, port: Number(match[2]) }
}

/** `dfss share PATHS` on loopback; resolves with its peer id once registered. */
export async function startSeed (t: TestContext, name: string, tracker: string, paths: string[], extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ proc: LongRunning, id: number }> {
  const { proc, match } = await spawnUntil(t, name, process.execPath, [BIN, 'share', ...paths, '-t', tracker, ...LOOPBACK, '--segment-size', String(SEGMENT_BYTES), ...extra],
    /sharing [0-9]+ files? as peer ([0-9]+) /, { env: { ...CLEAN_ENV, ...env }, timeoutMs: 30_000 })
  return { proc, id: Number(match[1]) }
}

/** `dfss get NAMES --json` on loopback into `out`. */
export function startGet (t: TestContext, label: string, tracker: string, names: string[], out: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): LongRunning {
  return spawnDfss(t, label, ['get', ...names, '-t', tracker, '-o', out, ...LOOPBACK, '--json', ...extra], { env: { ...CLEAN_ENV, ...env } })
}

/** Waits for a getter to exit 0. */
export async function finished (g: LongRunning, timeoutMs = 40_000): Promise<void> {
  const exit = await g.waitExit(timeoutMs)
  assert.deepEqual(exit, { code: 0, signal: null }, g.report())
}

/** Complete `get --json` lines so far. */
function jsonLines (stdout: string): Array<Record<string, unknown>> {
  return stdout.split('\n').slice(0, -1).filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
}

/** The `segment` events so far. */
export function parseSegments (stdout: string): Array<{ index: number, from: number }> {
  return jsonLines(stdout).filter(e => e['event'] === 'segment').map(e => ({ index: e['index'] as number, from: e['from'] as number }))
}

/** The single `summary` event's transfers. */
export function parseSummary (g: LongRunning): Array<{ from: number, file: string, segments: number }> {
  const s = jsonLines(g.stdout).filter(e => e['event'] === 'summary')
  assert.equal(s.length, 1, g.report())
  return (s[0] as { transfers: Array<{ from: number, file: string, segments: number }> }).transfers
}

/** The `start` event of a file. */
export function parseStartEvent (g: LongRunning, file: string): { segments: number, resumed: number } {
  const s = jsonLines(g.stdout).find(e => e['event'] === 'start' && e['file'] === file)
  assert.ok(s !== undefined, g.report())
  return s as unknown as { segments: number, resumed: number }
}

// ---------------------------------------------------------------------------------------------
// Raw protocol clients
// ---------------------------------------------------------------------------------------------

export function splitHostPort (addr: string): { host: string, port: number } {
  const i = addr.lastIndexOf(':')
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) }
}

/** Rejects after `ms` with `what`; the timer is cleared when `p` settles. */
export async function withDeadline<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** A handshaken connection with a message queue; closed when `t` ends. */
export class RawClient {
  readonly messages: Message[] = []
  private readonly waiters = new Set<() => void>()
  closed = false
  closeError: Error | undefined

  readonly conn: Connection

  private constructor (conn: Connection) {
    this.conn = conn
    conn.on('message', (m: Message) => { this.messages.push(m); for (const w of [...this.waiters]) w() })
    conn.on('close', (e?: Error) => { this.closed = true; this.closeError = e; for (const w of [...this.waiters]) w() })
    conn.start()
  }

  static async connect (t: TestContext | null, addr: string, opts: ConnectionOptions): Promise<RawClient> {
    const { host, port } = splitHostPort(addr)
    const conn = await Connection.connect(host, port, { handshakeTimeoutMs: 5000, ...opts })
    const c = new RawClient(conn)
    if (t !== null) defer(t, async () => { await c.close() })
    return c
  }

  /** Resolves with (and removes) the first queued message of `type`; rejects on close or after `ms`. */
  async next<K extends Message['type']> (type: K, ms = 5000): Promise<Extract<Message, { type: K }>> {
    return await withDeadline(new Promise((resolve, reject) => {
      const w = (): void => {
        const i = this.messages.findIndex(m => m.type === type || m.type === 'error')
        if (i >= 0) {
          const m = this.messages.splice(i, 1)[0] as Message
          this.waiters.delete(w)
          if (m.type === 'error' && type !== 'error') reject(new Error(`${m.code}: ${m.message}`))
          else resolve(m as Extract<Message, { type: K }>)
          return
        }
        if (this.closed) { this.waiters.delete(w); reject(this.closeError ?? new Error('closed')) }
      }
      this.waiters.add(w)
      w()
    }), ms, `waiting for ${type}`)
  }


  send (m: Message): void { this.conn.send(m) }
  async close (): Promise<void> { await this.conn.close() }
}

/**
 * Finds a file's swarm through the tracker like a peer would: connects as role 'peer', registers
 * nothing, asks REQ_SWARM and returns the members (their serving host:port). Leaves again at once.
 */
export async function discoverMembers (tracker: string, file: string, secret: string | null): Promise<Member[]> {
  const c = await RawClient.connect(null, tracker, { role: 'peer', id: 0, secret })
  try {
    c.send({ type: 'register', host: '127.0.0.1', port: 1, files: [], wants: [] })
    await c.next('ack')
    c.send({ type: 'req-swarm', file, withMeta: false })
    return (await c.next('swarm')).members
  } finally {
    await c.close()
  }
}

/** A TCP relay to `target` that records every byte both ways (to show what crosses the wire). */
export async function recordingProxy (t: TestContext, target: string): Promise<{ addr: string, bytes: () => Buffer }> {
  const { host, port } = splitHostPort(target)
  const chunks: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(client => {
    const upstream = net.connect({ host, port })
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => { sockets.delete(s) }) }
    client.on('data', (d: Buffer) => { chunks.push(Buffer.from(d)); upstream.write(d) })
    upstream.on('data', (d: Buffer) => { chunks.push(Buffer.from(d)); client.write(d) })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  defer(t, async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  })
  return { addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, bytes: () => Buffer.concat(chunks) }
}
