import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import type { TestContext } from 'node:test'
import { BIN, ROOT } from './cli.ts'

/** How a process ended. */
export interface Exit { code: number | null, signal: NodeJS.Signals | null }

interface Waiter { check: () => boolean, fail: (e: Error) => void }

/** Last `n` characters of a text, for error messages. */
function tail (s: string, n = 2000): string { return s.length > n ? `…${s.slice(-n)}` : s }

/**
 * A child process that keeps running: its output is collected, and tests wait for specific output
 * (never for time). Every wait is bounded and fails with the output so far.
 */
export class LongRunning {
  readonly name: string
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  stdout = ''
  stderr = ''
  exit: Exit | null = null
  readonly exited: Promise<Exit>
  private readonly waiters = new Set<Waiter>()

  constructor (name: string, cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}) {
    this.name = name
    this.child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout.on('data', (d: Buffer) => { this.stdout += d.toString(); this.poke() })
    this.child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); this.poke() })
    this.exited = new Promise(resolve => {
      // 'close' comes after both pipes are drained, so the output is complete by then.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal }
        this.poke()
        for (const w of [...this.waiters]) w.fail(new Error(`${this.name} exited (${this.describeExit()}) while waited on`))
        resolve(this.exit)
      })
    })
    this.child.once('error', err => {
      for (const w of [...this.waiters]) w.fail(err)
    })
  }

  get pid (): number { return this.child.pid as number }

  private describeExit (): string {
    return this.exit === null ? 'running' : this.exit.signal !== null ? `signal ${this.exit.signal}` : `code ${String(this.exit.code)}`
  }

  /** What went on so far, for assertion messages. */
  report (): string {
    return `${this.name} [${this.describeExit()}]\n--- stdout ---\n${tail(this.stdout)}\n--- stderr ---\n${tail(this.stderr)}`
  }

  private poke (): void {
    for (const w of [...this.waiters]) w.check()
  }

  /**
   * Resolves with the first non-undefined value of `probe`, re-evaluated on every output chunk.
   * Rejects after `timeoutMs`, or when the process exits before `probe` succeeds.
   */
  async waitUntil<T> (what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const w: Waiter = {
        check: () => {
          const v = probe()
          if (v === undefined) return false
          this.waiters.delete(w)
          clearTimeout(timer)
          resolve(v)
          return true
        },
        fail: e => {
          if (!this.waiters.delete(w)) return
          clearTimeout(timer)
          reject(new Error(`waiting for ${what}: ${e.message}\n${this.report()}`))
        }
      }
      if (w.check()) return
      if (this.exit !== null) { reject(new Error(`waiting for ${what}: ${this.name} has already exited\n${this.report()}`)); return }
      this.waiters.add(w)
      timer = setTimeout(() => { w.fail(new Error(`timed out after ${timeoutMs} ms`)) }, timeoutMs)
    })
  }

  /** Resolves with the first match of `re` in stdout (or stderr). */
  async waitFor (re: RegExp, opts: { stream?: 'stdout' | 'stderr', timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    const stream = opts.stream ?? 'stdout'
    return await this.waitUntil(`${stream} to match ${String(re)}`, () => re.exec(this[stream]) ?? undefined, opts.timeoutMs)
  }

  /** Resolves when the process has exited on its own; rejects (and kills it) after `timeoutMs`. */
  async waitExit (timeoutMs = 30_000): Promise<Exit> {
    if (this.exit !== null) return this.exit
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.report()}`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([this.exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends `signal` and waits for the exit; SIGKILL if it has not gone after `graceMs`. Idempotent. */
  async stop (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<Exit> {
    if (this.exit !== null) return this.exit
    this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>(resolve => { timer = setTimeout(resolve, graceMs) })
    await Promise.race([this.exited, grace])
    clearTimeout(timer)
    if (this.exit === null) this.child.kill('SIGKILL')
    return await this.exited
  }
}

const cleanups = new WeakMap<TestContext, Array<() => Promise<void> | void>>()

/** Registers a cleanup for the end of test `t`; cleanups run last-registered first, each even if another failed. */
export function defer (t: TestContext, fn: () => Promise<void> | void): void {
  let list = cleanups.get(t)
  if (list === undefined) {
    const fresh: Array<() => Promise<void> | void> = []
    list = fresh
    cleanups.set(t, fresh)
    t.after(async () => {
      const errors: unknown[] = []
      for (const f of fresh.reverse()) {
        try { await f() } catch (e) { errors.push(e) }
      }
      if (errors.length > 0) throw errors[0]
    })
  }
  list.push(fn)
}

/** Spawns a process stopped (SIGTERM, then SIGKILL) when test `t` ends. */
export function spawnLong (t: TestContext, name: string, cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): LongRunning {
  const p = new LongRunning(name, cmd, args, opts)
  defer(t, async () => { await p.stop() })
  return p
}

/** Spawns `dfss ...args`, stopped when `t` ends. */
export function spawnDfss (t: TestContext, name: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): LongRunning {
  return spawnLong(t, name, process.execPath, [BIN, ...args], opts)
}

/** Spawns a process and resolves once its stdout matches `ready` (bounded by `timeoutMs`). */
export async function spawnUntil (t: TestContext, name: string, cmd: string, args: string[], ready: RegExp, opts: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<{ proc: LongRunning, match: RegExpMatchArray }> {
  const proc = spawnLong(t, name, cmd, args, opts)
  const match = await proc.waitFor(ready, { timeoutMs: opts.timeoutMs ?? 15_000 })
  return { proc, match }
}

/** Starts `dfss tracker` on 127.0.0.1, port 0; resolves with its HOST:PORT. */
export async function startTracker (t: TestContext): Promise<{ proc: LongRunning, addr: string }> {
  const { proc, match } = await spawnUntil(t, 'tracker', process.execPath, [BIN, 'tracker', '--host', '127.0.0.1', '--port', '0'], /dfss tracker listening on (127\.0\.0\.1:[0-9]+)\n/)
  return { proc, addr: match[1] as string }
}

/** Starts `dfss share PATHS` on loopback; resolves with its peer id once it is registered. */
export async function startShare (t: TestContext, name: string, tracker: string, paths: string[], extra: string[] = []): Promise<{ proc: LongRunning, id: number }> {
  const args = [BIN, 'share', ...paths, '-t', tracker, '--host', '127.0.0.1', ...extra]
  const { proc, match } = await spawnUntil(t, name, process.execPath, args, /sharing [0-9]+ files? as peer ([0-9]+) /, { timeoutMs: 30_000 })
  return { proc, id: Number(match[1]) }
}

/** A temp directory removed when `t` ends. */
export async function tempDir (t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dfss-${prefix}-`))
  defer(t, async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Every regular file under `dir`, as sorted '/'-separated relative paths. */
export async function listFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile())
    .map(e => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(path.sep).join('/'))
    .sort()
}

/** The JSON events of a `get --json` output, one per line. */
export function jsonEvents (stdout: string): Array<Record<string, unknown> & { event: string }> {
  return stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as Record<string, unknown> & { event: string })
}
