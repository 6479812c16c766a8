// Real mode across four "hosts" built from Linux network namespaces: a tracker, a seed and two
// simultaneous getters, each in its own namespace with its own private address on a private bridge.
//
// Layout (names carry this process's pid so runs never collide):
//   namespace dfssnt-PID-br : bridge br0 with ports h1..h4 (nothing in the root namespace is touched)
//   namespace dfssnt-PID-hN : eth0 = 10.213.77.N/24, the other end of hN; lo up; no default route, no NAT
// Host 1 runs `dfss tracker`, host 2 `dfss share` of a 16 MiB random file, hosts 3 and 4 `dfss get` at once.
// Everything is torn down in t.after (and, as a last resort, on process exit or SIGINT/SIGTERM).
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { BIN, ROOT, runCommand } from '../helpers/cli.ts'

const SUBNET = '10.213.77'
const FILE_NAME = 'random-16MiB.bin'
const FILE_BYTES = 16 * 1024 * 1024
const SEGMENT_BYTES = 256 * 1024
const SEGMENTS = FILE_BYTES / SEGMENT_BYTES
const IP_TIMEOUT_MS = 10_000
const START_TIMEOUT_MS = 15_000
const GET_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000

/** Why namespaces cannot be built here, or null when they might be (the real probe is `ip netns add`). */
function staticSkipReason (): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as CI does)'
  const r = spawnSync('ip', ['-V'], { stdio: 'ignore', timeout: IP_TIMEOUT_MS })
  if (r.error !== undefined || r.status !== 0) return 'the `ip` command (iproute2) is missing; .ci/run installs it'
  return null
}

/** A child process whose output can be waited on, line by line, with a time limit on every wait. */
class Proc {
  readonly name: string
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  exit: { code: number | null, signal: NodeJS.Signals | null } | null = null
  private readonly events = new EventEmitter()

  constructor (name: string, cmd: string, args: string[], cwd: string) {
    this.name = name
    this.child = spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout?.on('data', (d: Buffer) => { this.stdout += d.toString(); this.events.emit('change') })
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.child.once('error', (e: Error) => { this.stderr += `spawn error: ${e.message}\n`; this.exit ??= { code: null, signal: null }; this.events.emit('change') })
    this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => { this.exit = { code, signal }; this.events.emit('change') })
  }

  /** Output for assertion messages. */
  describe (): string {
    const ex = this.exit === null ? 'still running' : `exit code ${String(this.exit.code)}, signal ${String(this.exit.signal)}`
    return `[${this.name}: ${ex}]\n--- stdout (last 2000 chars) ---\n${this.stdout.slice(-2000)}\n--- stderr (last 2000 chars) ---\n${this.stderr.slice(-2000)}`
  }

  /** Resolves when `test(state)` returns a value; rejects after `ms`. */
  private async until<T> (what: string, ms: number, test: () => T | undefined): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      const done = (): void => { clearTimeout(timer); this.events.off('change', check) }
      const check = (): void => {
        let v: T | undefined
        try { v = test() } catch (e) { done(); reject(e as Error); return }
        if (v !== undefined) { done(); resolve(v) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: ${what} not seen within ${ms} ms\n${this.describe()}`)) }, ms)
      this.events.on('change', check)
      check()
    })
  }

  /** Waits for a line of stdout matching `re`; fails early if the process exits first. */
  async waitFor (re: RegExp, ms: number): Promise<RegExpExecArray> {
    return await this.until(`output ${String(re)}`, ms, () => {
      const m = re.exec(this.stdout)
      if (m !== null) return m
      if (this.exit !== null) throw new Error(`${this.name} exited before printing ${String(re)}\n${this.describe()}`)
      return undefined
    })
  }

  /** Waits for the process to end; SIGKILLs it and fails after `ms`. */
  async waitExit (ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    try {
      return await this.until('exit', ms, () => this.exit ?? undefined)
    } catch (e) {
      this.child.kill('SIGKILL')
      throw e
    }
  }

  running (): boolean { return this.exit === null && this.child.exitCode === null && this.child.signalCode === null }
}

interface JsonEvent { event: string, file?: string, index?: number, from?: number, transfers?: Array<{ from: number, file: string, segments: number }> }

function sha256 (buf: Buffer): string { return createHash('sha256').update(buf).digest('hex') }

const skipReason = staticSkipReason()

describe('real mode across four network namespaces (tracker, seed, two getters)', { skip: skipReason ?? false }, () => {
  it('two simultaneous getters on separate hosts both get the 16 MiB file byte for byte', { timeout: 180_000 }, async t => {
    const tag = `dfssnt-${process.pid}`
    const bridgeNs = `${tag}-br`
    const hostNs = [1, 2, 3, 4].map(i => `${tag}-h${i}`)
    const addr = (i: number): string => `${SUBNET}.${i}`
    const created: string[] = [] // namespaces that exist and must go
    const procs: Proc[] = []
    const work = await mkdtemp(path.join(os.tmpdir(), 'dfss-netns-'))

    // ---- teardown: every process, every namespace, the temp dir; runs whatever happened ----
    let tornDown = false
    const teardownSync = (): void => {
      if (tornDown) return
      tornDown = true
      for (const p of procs) if (p.running()) p.child.kill('SIGKILL')
      for (const ns of [...created].reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: IP_TIMEOUT_MS })
      rmSync(work, { recursive: true, force: true })
    }
    const onSignal = (sig: NodeJS.Signals): void => {
      teardownSync()
      process.kill(process.pid, sig) // the handler is gone by now (once): die of the signal as usual
    }
    process.once('exit', teardownSync)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    t.after(async () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.off('exit', teardownSync)
      for (const p of procs) if (p.running()) p.child.kill('SIGKILL')
      await Promise.allSettled(procs.map(async p => await p.waitExit(STOP_TIMEOUT_MS)))
      const left: string[] = []
      if (!tornDown) {
        tornDown = true
        for (const ns of [...created].reverse()) {
          const r = await runCommand('ip', ['netns', 'del', ns], { timeoutMs: IP_TIMEOUT_MS })
          if (r.code !== 0) left.push(`${ns}: ${r.stderr.trim()}`)
        }
      }
      await rm(work, { recursive: true, force: true })
      if (left.length > 0) throw new Error(`could not delete namespaces:\n${left.join('\n')}`)
    })

    // ---- the network: ip failures while building it mean namespaces cannot be made here ----
    const ip = async (...args: string[]): Promise<void> => {
      const r = await runCommand('ip', args, { timeoutMs: IP_TIMEOUT_MS })
      if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed (exit ${String(r.code)}, signal ${String(r.signal)}): ${r.stderr.trim()}`)
    }
    const addNs = async (ns: string): Promise<void> => { await ip('netns', 'add', ns); created.push(ns) }
    try {
      await addNs(bridgeNs)
      await ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', bridgeNs, 'link', 'set', 'br0', 'up')
      for (const [k, ns] of hostNs.entries()) {
        const i = k + 1
        await addNs(ns)
        await ip('-n', bridgeNs, 'link', 'add', `h${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await ip('-n', bridgeNs, 'link', 'set', `h${i}`, 'master', 'br0')
        await ip('-n', bridgeNs, 'link', 'set', `h${i}`, 'up')
        await ip('-n', ns, 'addr', 'add', `${addr(i)}/24`, 'dev', 'eth0')
        await ip('-n', ns, 'link', 'set', 'eth0', 'up')
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
      }
      await ip('netns', 'exec', hostNs[0] as string, 'true')
    } catch (e) {
      t.skip(`cannot build network namespaces here: ${(e as Error).message}`)
      return
    }

    // Nothing routes out: each host knows only its /24 on eth0.
    for (const ns of hostNs) {
      const r = await runCommand('ip', ['-n', ns, '-4', 'route', 'show'], { timeoutMs: IP_TIMEOUT_MS })
      assert.equal(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stdout, /default/, `${ns} must have no default route`)
    }

    const run = (host: number, name: string, args: string[], cwd: string): Proc => {
      const p = new Proc(name, 'ip', ['netns', 'exec', hostNs[host - 1] as string, process.execPath, BIN, ...args], cwd)
      procs.push(p)
      return p
    }

    // ---- the data ----
    const seedDir = path.join(work, 'seed')
    await mkdir(seedDir)
    const data = randomBytes(FILE_BYTES)
    const want = sha256(data)
    await writeFile(path.join(seedDir, FILE_NAME), data)

    // ---- host 1: tracker on its private address, port picked by the OS ----
    const tracker = run(1, 'tracker', ['tracker', '--host', addr(1), '--port', '0'], ROOT)
    const tm = await tracker.waitFor(new RegExp(`dfss tracker listening on ${addr(1).replaceAll('.', '\\.')}:([0-9]+)`), START_TIMEOUT_MS)
    const trackerAt = `${addr(1)}:${tm[1] as string}`

    // ---- host 2: the seed ----
    const seed = run(2, 'seed', ['share', FILE_NAME, '-t', trackerAt, '--host', addr(2), '--advertise', addr(2), '--segment-size', String(SEGMENT_BYTES)], seedDir)
    const sm = await seed.waitFor(/sharing 1 file as peer ([0-9]+)/, START_TIMEOUT_MS)
    const seedId = Number(sm[1])

    // ---- hosts 3 and 4: two getters at once ----
    const getters = [3, 4].map(i => {
      const out = path.join(work, `get${i}`)
      return { host: i, out, proc: run(i, `get@${addr(i)}`, ['get', FILE_NAME, '-t', trackerAt, '-o', out, '--host', addr(i), '--advertise', addr(i), '--json'], ROOT) }
    })
    const exits = await Promise.all(getters.map(async g => await g.proc.waitExit(GET_TIMEOUT_MS)))
    for (const [k, g] of getters.entries()) assert.deepEqual(exits[k], { code: 0, signal: null }, g.proc.describe())
    assert.ok(tracker.running(), `the tracker died\n${tracker.describe()}`)
    assert.ok(seed.running(), `the seed died\n${seed.describe()}`)

    // ---- the files, byte for byte ----
    for (const g of getters) {
      assert.deepEqual(await readdir(g.out), [FILE_NAME], `${g.proc.name}: only the finished file is left (no .part)`)
      assert.equal(sha256(await readFile(path.join(g.out, FILE_NAME))), want, `${g.proc.name}: SHA-256 differs from the seed's file`)
    }

    // ---- who sent what, from the --json events ----
    const crossFrom: Array<number | null> = []
    let fromSeed = 0
    for (const g of getters) {
      const events = g.proc.stdout.split('\n').filter(l => l.trim() !== '').map(l => {
        try { return JSON.parse(l) as JsonEvent } catch { throw new Error(`${g.proc.name}: not a JSON line: ${l}\n${g.proc.describe()}`) }
      })
      const summary = events.find(e => e.event === 'summary')
      assert.ok(summary?.transfers !== undefined, `${g.proc.name}: no summary event\n${g.proc.describe()}`)
      const transfers = summary.transfers.filter(x => x.file === FILE_NAME)
      assert.equal(transfers.reduce((a, x) => a + x.segments, 0), SEGMENTS, `${g.proc.name}: segments in the summary`)
      const segs = events.filter(e => e.event === 'segment')
      assert.equal(new Set(segs.map(e => e.index)).size, SEGMENTS, `${g.proc.name}: every segment arrived once`)
      for (const x of transfers) assert.equal(segs.filter(e => e.from === x.from).length, x.segments, `${g.proc.name}: segment events from ${x.from} match the summary`)
      assert.ok(events.some(e => e.event === 'done' && e.file === FILE_NAME), `${g.proc.name}: no done event`)
      fromSeed += transfers.filter(x => x.from === seedId).reduce((acc, x) => acc + x.segments, 0)
      // Only one other peer exists besides the seed: the other getter.
      const others = transfers.filter(x => x.from !== seedId)
      assert.ok(others.length <= 1, `${g.proc.name}: segments from more sources than exist: ${JSON.stringify(transfers)}`)
      crossFrom.push(others[0]?.from ?? null)
      t.diagnostic(`${g.proc.name}: ${transfers.map(x => `${x.segments} from ${x.from === seedId ? 'the seed' : 'the other getter'} (peer ${x.from})`).join(', ')}`)
    }
    const [a, b] = crossFrom
    if (a != null && b != null) assert.notEqual(a, b, 'each getter got segments from the other, so the two source ids must differ')
    if (a == null && b == null) t.diagnostic('no getter-to-getter segments this run (allowed: the seed was fast enough)')

    // ---- clean stop: seed, then tracker ----
    seed.child.kill('SIGTERM')
    assert.deepEqual(await seed.waitExit(STOP_TIMEOUT_MS), { code: 0, signal: null }, seed.describe())
    const up = /stopped; uploaded ([0-9]+) segments/.exec(seed.stdout)
    assert.ok(up !== null, seed.describe())
    assert.ok(Number(up[1]) >= fromSeed, `the seed says it uploaded ${up[1] as string} segments; the getters got ${fromSeed} from it`)
    tracker.child.kill('SIGTERM')
    assert.deepEqual(await tracker.waitExit(STOP_TIMEOUT_MS), { code: 0, signal: null }, tracker.describe())
    assert.match(tracker.stdout, /dfss tracker stopped/)
    for (const p of procs) if (p.stderr.trim() !== '') t.diagnostic(`${p.name} warned: ${p.stderr.trim().split('\n').slice(0, 5).join(' | ')}`)
  })
})
