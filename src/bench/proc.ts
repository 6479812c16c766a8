/**
 * Child processes of the benchmark: spawned in their own process group, optionally under
 * `/usr/bin/time` for exact CPU and peak-memory figures, always stopped with a bounded wait.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** GNU time: `-f '%U %S %M'` gives user s, sys s and max RSS in KiB of the process it runs. */
export const TIME_BIN = '/usr/bin/time'
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SEC = 100
/** How long a process gets after SIGTERM before its whole group gets SIGKILL. */
export const STOP_GRACE_MS = 5000
const MAX_STDERR_CHARS = 16_384

/** CPU and memory use of one finished process. */
export interface ProcUsage { userS: number, sysS: number, maxRssKiB: number }

/** How a process ended. */
export interface ProcExit { code: number | null, signal: NodeJS.Signals | null, atMs: number }

/** Options of {@link ProcessSet.spawn}. */
export interface BenchSpawnOptions {
  /** Role for reports ("seed", "getter", "tracker", ...). */
  role: string
  cwd?: string
  /** Added to the bench's own environment. */
  env?: NodeJS.ProcessEnv
  /** Run under /usr/bin/time (when present) to get CPU and peak RSS. Default true. */
  measure?: boolean
  /** Where /usr/bin/time writes its line; required when measuring. */
  usageFile?: string
  /** Keep the whole stdout (else only what line waiters need). Default true. */
  keepStdout?: boolean
}

const live = new Set<BenchProcess>()
let exitHookInstalled = false

/** Parses GNU time's output file: its last line is "USER SYS MAXRSS". */
export function parseTimeOutput (text: string): ProcUsage | null {
  const lines = text.trim().split('\n')
  const m = /^([0-9.]+) ([0-9.]+) ([0-9]+)$/.exec((lines[lines.length - 1] ?? '').trim())
  if (m === null) return null
  return { userS: Number(m[1]), sysS: Number(m[2]), maxRssKiB: Number(m[3]) }
}

/** user+sys seconds from the text of /proc/PID/stat (fields 14 and 15, counted after the command name). */
export function parseProcStatCpu (text: string): number | null {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const ut = Number(rest[11])
  const st = Number(rest[12])
  return Number.isFinite(ut) && Number.isFinite(st) ? (ut + st) / CLOCK_TICKS_PER_SEC : null
}

/** One child process of the benchmark. */
export class BenchProcess {
  readonly role: string
  readonly child: ChildProcess
  /** Resolves when the process has exited and its output is read. */
  readonly exited: Promise<ProcExit>
  readonly startedAtMs: number
  stdout = ''
  stderr = ''
  private exit: ProcExit | null = null
  private usage: ProcUsage | null = null
  private realPid: number | null
  private readonly measured: boolean
  private readonly usageFile: string | null
  private readonly lineListeners = new Set<(line: string) => void>()
  private partial = ''

  constructor (cmd: string, args: string[], o: BenchSpawnOptions) {
    this.role = o.role
    this.measured = (o.measure ?? true) && o.usageFile !== undefined && existsSync(TIME_BIN)
    this.usageFile = this.measured ? (o.usageFile as string) : null
    const [file, argv] = this.measured ? [TIME_BIN, ['-f', '%U %S %M', '-o', this.usageFile as string, cmd, ...args]] : [cmd, args]
    this.startedAtMs = performance.now()
    this.child = spawn(file, argv, {
      cwd: o.cwd,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // own process group: a stop can reach everything it started (mpirun ranks, dfss run ranks)
      detached: true
    })
    this.realPid = this.measured ? null : (this.child.pid ?? null)
    const keep = o.keepStdout ?? true
    this.child.stdout?.setEncoding('utf8')
    this.child.stderr?.setEncoding('utf8')
    this.child.stdout?.on('data', (d: string) => {
      if (keep) this.stdout += d
      const lines = (this.partial + d).split('\n')
      this.partial = lines.pop() ?? ''
      for (const l of lines) for (const f of this.lineListeners) f(l)
    })
    this.child.stderr?.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-MAX_STDERR_CHARS) })
    let exitInfo: ProcExit | null = null
    this.child.once('exit', (code, signal) => { exitInfo = { code, signal, atMs: performance.now() } })
    live.add(this)
    installExitHook()
    this.exited = new Promise<ProcExit>(resolve => {
      const done = (e: ProcExit): void => {
        live.delete(this)
        void this.readUsage().finally(() => { this.exit = e; resolve(e) })
      }
      this.child.once('error', (err) => { this.stderr += String(err); done({ code: null, signal: null, atMs: performance.now() }) })
      this.child.once('close', (code, signal) => { done(exitInfo ?? { code, signal, atMs: performance.now() }) })
    })
  }

  private async readUsage (): Promise<void> {
    if (this.usageFile === null) return
    try { this.usage = parseTimeOutput(await readFile(this.usageFile, 'utf8')) } catch { this.usage = null }
  }

  /** True once the process has exited. */
  get done (): boolean { return this.exit !== null }

  /** The exit, once known. */
  get exitInfo (): ProcExit | null { return this.exit }

  /** The measured process (not the /usr/bin/time wrapper); null if it could not be found. */
  async pid (): Promise<number | null> {
    if (this.realPid !== null) return this.realPid
    const wrapper = this.child.pid
    if (wrapper === undefined) return null
    for (let i = 0; i < 400 && this.exit === null; i++) {
      try {
        const kids = (await readFile(`/proc/${wrapper}/task/${wrapper}/children`, 'utf8')).trim()
        if (kids !== '') { this.realPid = Number(kids.split(' ')[0]); return this.realPid }
      } catch { return null }
      await sleep(5)
    }
    return null
  }

  /** CPU seconds (user+sys) so far: from /proc while it runs, from /usr/bin/time after. */
  async cpuSeconds (): Promise<number | null> {
    if (this.exit === null) {
      const pid = await this.pid()
      if (pid !== null) {
        try { return parseProcStatCpu(await readFile(`/proc/${pid}/stat`, 'utf8')) } catch { /* it just exited: fall through */ }
      }
      if (this.exit === null) await Promise.race([this.exited, sleep(STOP_GRACE_MS)])
    }
    return this.usage === null ? null : this.usage.userS + this.usage.sysS
  }

  /** Peak resident memory in KiB: /usr/bin/time's figure after exit, VmHWM while running. */
  async peakRssKiB (): Promise<number | null> {
    if (this.usage !== null) return this.usage.maxRssKiB
    const pid = await this.pid()
    if (pid === null || this.exit !== null) return null
    try {
      const m = /VmHWM:\s+([0-9]+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
      return m === null ? null : Number(m[1])
    } catch { return null }
  }

  /** Bytes the process has written through write/send so far (`wchar` of /proc/PID/io), while it runs. */
  async writtenBytes (): Promise<number | null> {
    const pid = await this.pid()
    if (pid === null || this.exit !== null) return null
    try {
      const m = /wchar: ([0-9]+)/.exec(await readFile(`/proc/${pid}/io`, 'utf8'))
      return m === null ? null : Number(m[1])
    } catch { return null }
  }

  /** Resolves with the first stdout line matching `re` (already printed or to come); rejects on exit or timeout. */
  async waitForLine (re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    for (const l of this.stdout.split('\n')) { const m = re.exec(l); if (m !== null) return m }
    return await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => { finish(new Error(`${this.role}: no line matching ${String(re)} within ${timeoutMs} ms`)) }, timeoutMs)
      const onLine = (l: string): void => { const m = re.exec(l); if (m !== null) finish(m) }
      const finish = (r: RegExpExecArray | Error): void => {
        clearTimeout(timer)
        this.lineListeners.delete(onLine)
        if (r instanceof Error) reject(r); else resolve(r)
      }
      this.lineListeners.add(onLine)
      void this.exited.then(e => { finish(new Error(`${this.role} exited (${e.signal ?? e.code ?? '?'}) before printing ${String(re)}: ${this.stderr.trim().slice(-500)}`)) })
    })
  }

  /** Waits for the exit at most `timeoutMs`; null on timeout. */
  async waitExit (timeoutMs: number): Promise<ProcExit | null> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<null>(resolve => { timer = setTimeout(() => { resolve(null) }, timeoutMs) })
    try { return await Promise.race([this.exited, timeout]) } finally { clearTimeout(timer) }
  }

  private signalGroup (sig: NodeJS.Signals): void {
    const pgid = this.child.pid
    if (pgid === undefined) return
    try { process.kill(-pgid, sig) } catch { /* already gone */ }
  }

  /**
   * Stops the process: SIGTERM to the measured process (so /usr/bin/time still reports it) or to the
   * group, then SIGKILL to the whole group after `graceMs`. Idempotent; resolves once it has exited.
   */
  async stop (graceMs = STOP_GRACE_MS): Promise<ProcExit | null> {
    if (this.exit !== null) return this.exit
    const pid = this.measured ? await this.pid() : null
    if (this.exit !== null) return this.exit
    if (pid !== null) { try { process.kill(pid, 'SIGTERM') } catch { /* gone */ } } else this.signalGroup('SIGTERM')
    const e = await this.waitExit(graceMs)
    if (e !== null) { this.signalGroup('SIGKILL'); return e }
    this.signalGroup('SIGKILL')
    return await this.waitExit(2000)
  }

  /** Synchronous last resort (process exit): SIGKILL the group. */
  killNow (): void { this.signalGroup('SIGKILL') }
}

function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => { for (const p of live) p.killNow() })
}

/** The processes of one measurement: spawn through it, stop them all in `finally`. */
export class ProcessSet {
  readonly procs: BenchProcess[] = []
  private readonly usageDir: string
  private n = 0

  /** `usageDir`: where /usr/bin/time's files go (a temp dir). */
  constructor (usageDir: string) { this.usageDir = usageDir }

  /** Starts `cmd args` (see {@link BenchSpawnOptions}). */
  spawn (cmd: string, args: string[], o: Omit<BenchSpawnOptions, 'usageFile'>): BenchProcess {
    const p = new BenchProcess(cmd, args, { ...o, usageFile: path.join(this.usageDir, `usage-${this.n++}-${o.role}.txt`) })
    this.procs.push(p)
    return p
  }

  /** Stops every process still running, in reverse start order, all at once. */
  async stopAll (graceMs = STOP_GRACE_MS): Promise<void> {
    await Promise.all([...this.procs].reverse().map(async p => await p.stop(graceMs)))
  }
}

/** Stops every benchmark process still alive anywhere (on SIGINT). */
export async function stopEverything (): Promise<void> {
  await Promise.all([...live].map(async p => await p.stop(1000)))
}
