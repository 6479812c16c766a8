import type * as CliProgress from 'cli-progress'
import type { Downloader, SegmentEvent } from '../peer/downloader.ts'
import { lazyRequire } from '../util/lazy-require.ts'

// Loaded on first use, only where bars are drawn (a terminal): every other `dfss` process (a getter
// with --json or plain output, a seed, a tracker) would load cli-progress and the `node:readline` it
// requires at start for nothing. With both loaded lazily, `dfss get --help` took 70-79 ms of CPU here
// instead of 85-92 ms.
const bars = lazyRequire<typeof CliProgress>('cli-progress')

/** How progress is shown: bars on a terminal, log lines otherwise, or one JSON event per line. */
export type ProgressMode = 'tty' | 'plain' | 'json'

/** Formats a byte count (KiB/MiB/GiB). */
export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] as string}`
}

/** A set of terminal progress bars (one line per file), on stderr or on `stream` (drawn even if it is no terminal). */
export function createBars (stream?: NodeJS.WritableStream): CliProgress.MultiBar {
  const cliProgress = bars()
  return new cliProgress.MultiBar({
    ...(stream !== undefined ? { stream, noTTYOutput: true } : {}),
    format: '{name} |{bar}| {percentage}% {done}/{sizeText} {speed} {sources} src ETA {eta_formatted}',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    etaBuffer: 20,
    barsize: 20,
    fps: 10
  }, cliProgress.Presets.shades_classic)
}

interface FileProgress { name: string, size: number, total: number, have: number, bytes: number, startedAt: number, bar: CliProgress.SingleBar | null, lastTenth: number }

/** Shows download progress from a Downloader's events. */
export class ProgressReporter {
  private readonly mode: ProgressMode
  private readonly out: (s: string) => void
  private readonly files = new Map<string, FileProgress>()
  private readonly multi: CliProgress.MultiBar | null
  private readonly ownsMulti: boolean
  private readonly downloader: Downloader
  private readonly label: string

  /** `shared`: several reporters (one per peer) drawing into one set of bars; `label` prefixes file names. */
  constructor (downloader: Downloader, mode: ProgressMode, out: (s: string) => void, opts: { shared?: CliProgress.MultiBar, label?: string } = {}) {
    this.mode = mode
    this.out = out
    this.downloader = downloader
    this.label = opts.label ?? ''
    this.ownsMulti = opts.shared === undefined
    this.multi = mode !== 'tty' ? null : opts.shared ?? createBars()
    downloader.on('file-start', (name: string, total: number, have: number, size: number) => { this.onStart(name, total, have, size) })
    downloader.on('segment', (ev: SegmentEvent) => { this.onSegment(ev) })
    downloader.on('file-done', (name: string, where: string) => { this.onDone(name, where) })
  }

  private event (obj: Record<string, unknown>): void { this.out(JSON.stringify({ t: Date.now(), ...obj }) + '\n') }

  private onStart (name: string, total: number, have: number, size: number): void {
    const f: FileProgress = { name, size, total, have, bytes: 0, startedAt: performance.now(), bar: null, lastTenth: 0 }
    this.files.set(name, f)
    if (this.mode === 'json') this.event({ event: 'start', file: name, size, segments: total, resumed: have })
    else if (this.mode === 'plain') this.out(`${this.label}${name}: ${formatBytes(size)}, ${total} segments${have > 0 ? `, ${have} already on disk` : ''}\n`)
    else f.bar = (this.multi as CliProgress.MultiBar).create(Math.max(total, 1), have, this.payload(f))
  }

  private payload (f: FileProgress): Record<string, string | number> {
    const secs = (performance.now() - f.startedAt) / 1000
    const speed = secs > 0 ? `${formatBytes(f.bytes / secs)}/s` : '-'
    const shown = this.label + f.name
    return { name: shown.length > 28 ? '…' + shown.slice(-27) : shown.padEnd(28), done: formatBytes(Math.min(f.size, f.have * (f.total > 0 ? f.size / f.total : 0))), sizeText: formatBytes(f.size), speed, sources: this.downloader.activeSources(f.name) }
  }

  private onSegment (ev: SegmentEvent): void {
    const f = this.files.get(ev.file)
    if (f === undefined) return
    f.have = ev.have
    f.bytes += ev.bytes
    if (this.mode === 'json') this.event({ event: 'segment', file: ev.file, index: ev.index, from: ev.from, bytes: ev.bytes, have: ev.have, total: ev.total })
    else if (this.mode === 'plain') {
      const tenth = Math.floor((ev.have / ev.total) * 10)
      if (tenth > f.lastTenth && tenth < 10) {
        f.lastTenth = tenth
        this.out(`${this.label}${ev.file}: ${tenth * 10}% (${ev.have}/${ev.total} segments, ${this.payload(f)['speed'] as string})\n`)
      }
    } else f.bar?.update(ev.have, this.payload(f))
  }

  private onDone (name: string, where: string): void {
    const f = this.files.get(name)
    if (f === undefined) return
    const ms = performance.now() - f.startedAt
    if (this.mode === 'json') this.event({ event: 'done', file: name, path: where, ms: Math.round(ms) })
    else if (this.mode === 'plain') this.out(`${this.label}${name}: done in ${(ms / 1000).toFixed(2)} s -> ${where}\n`)
    else f.bar?.update(f.total, this.payload(f))
  }

  /** Stops the bars. */
  stop (): void { if (this.ownsMulti) this.multi?.stop() }
}
