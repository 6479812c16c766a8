import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { InputError } from '../classic/input.ts'
import { runSwarm } from '../launch/run.ts'
import { formatSummary } from '../launch/stats.ts'
import { runDemo } from './demo.ts'
import { DEFAULT_LINGER_S, HONEST_PIPELINE, runGet, runLs, runShare, runTracker, type PeerCliOptions } from './real.ts'
import { parseRate } from '../util/rate-limiter.ts'
import { MAX_SEGMENT_BYTES } from '../protocol/messages.ts'
import { DEFAULT_MAX_OPEN_FILES } from '../storage/file-handles.ts'

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }

// Exported for the build's warm-up run (scripts/bundle.js), which compiles them before the code cache is made.
export { runGet, runShare, runTracker }

/** Parses a positive integer option. */
export function parseIntOption (v: string): number {
  if (!/^[0-9]+$/.test(v)) throw new InvalidArgumentError('expected a whole number')
  return Number(v)
}

/** Parses a positive number of seconds. */
export function parseSeconds (v: string): number {
  const n = Number(v)
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of seconds')
  return n
}

/** The longest stay `--linger` takes: a day (timers cannot wait much more than 24 days). */
export const MAX_LINGER_S = 86_400

/** Parses `--linger`: 0 (leave at once) up to MAX_LINGER_S seconds. */
export function parseLinger (v: string): number {
  const n = v.trim() === '' ? Number.NaN : Number(v)
  if (!(n >= 0 && n <= MAX_LINGER_S)) throw new InvalidArgumentError(`expected 0 to ${MAX_LINGER_S} seconds`)
  return n
}

function err (line: string): void { process.stderr.write(line + '\n') }

/** Builds the CLI; `main` parses argv with it. */
export function buildProgram (): Command {
  const program = new Command()
  program
    .name('dfss')
    .description('DFSS: BitTorrent-like distributed file sharing (tracker, peers, classic and real files)')
    .version(pkg.version)
    .showHelpAfterError()

  program.command('run')
    .description('run a classic swarm on this machine like `mpirun -np N`: rank 0 tracker, ranks 1..N-1 peers reading DIR/inR.txt')
    .requiredOption('-n, --ranks <N>', 'number of ranks, tracker included', parseIntOption)
    .argument('[dir]', 'directory with in1.txt ... in(N-1).txt; outputs go there', '.')
    .option('--timeout <seconds>', 'kill every rank and fail after this long', parseSeconds, 60)
    .option('--stats <file>', 'write the run statistics as JSON')
    .option('--secret <secret>', 'swarm secret (default: DFSS_SECRET)')
    .option('-q, --quiet', 'no summary')
    .action(async (dir: string, o: { ranks: number, timeout: number, stats?: string, secret?: string, quiet?: boolean }) => {
      try {
        const res = await runSwarm({
          ranks: o.ranks,
          dir: path.resolve(dir),
          timeoutMs: o.timeout * 1000,
          statsFile: o.stats ?? null,
          secret: o.secret ?? process.env['DFSS_SECRET'] ?? null,
          log: err
        })
        if (!res.ok) {
          for (const p of res.problems) err(`dfss run: ${p}`)
          process.exitCode = res.signal !== undefined ? 128 + (os.constants.signals[res.signal] ?? 0) : 1
          return
        }
        if (o.quiet !== true && res.stats !== null) {
          process.stdout.write(`dfss run: ${o.ranks} ranks finished in ${res.stats.elapsedMs} ms\n${formatSummary(res.stats)}\n`)
        }
      } catch (e) {
        if (e instanceof InputError || e instanceof RangeError) { err(`dfss run: ${e.message}`); process.exitCode = 2; return }
        throw e
      }
    })

  program.command('demo')
    .description('run the bundled example scenario as a swarm and show who sent what to whom')
    .option('--keep', 'keep the output directory')
    .action(async (o: { keep?: boolean }) => { process.exitCode = await runDemo({ keep: o.keep === true, out: s => process.stdout.write(s), err }) })

  const secretOf = (o: { secret?: string }): string | null => {
    const v = o.secret ?? process.env['DFSS_SECRET'] ?? ''
    return v === '' ? null : v
  }
  const guard = (name: string, fn: () => Promise<number>) => async (): Promise<void> => {
    try {
      process.exitCode = await fn()
    } catch (e) {
      err(`dfss ${name}: ${(e as Error).message}`)
      process.exitCode = e instanceof RangeError ? 2 : 1
    }
  }
  const io = { out: (s: string) => { process.stdout.write(s) }, err }

  program.command('tracker')
    .description('run a long-running tracker for real files (stops on SIGINT/SIGTERM)')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind (0 picks a free one)', parseIntOption, 0)
    .option('--max-connections <n>', 'most simultaneous connections', parseIntOption, 1024)
    .option('--max-files <n>', 'most files one registration may declare', parseIntOption, 100_000)
    .option('--handshake-timeout <seconds>', 'time allowed for a handshake', parseSeconds, 10)
    .option('--secret <secret>', 'swarm secret (default: DFSS_SECRET)')
    .action(async (o: { host: string, port: number, maxConnections: number, maxFiles: number, handshakeTimeout: number, secret?: string }) => {
      await guard('tracker', async () => await runTracker({ host: o.host, port: o.port, maxConnections: o.maxConnections, maxFilesPerPeer: o.maxFiles, handshakeTimeoutMs: o.handshakeTimeout * 1000, secret: secretOf(o) }, io))()
    })

  const peerOpts = (c: Command): Command => c
    .requiredOption('-t, --tracker <host:port>', 'the tracker')
    .option('--host <addr>', 'address our segment server binds', '0.0.0.0')
    .option('--port <port>', 'port our segment server binds (0: any)', parseIntOption, 0)
    .option('--advertise <addr>', 'address other peers should dial (default: what the tracker sees)')
    .option('--upload-limit <rate>', 'cap on upload speed, e.g. 20MiB (per second)', (v: string) => { try { return parseRate(v) } catch (e) { throw new InvalidArgumentError((e as Error).message) } })
    .option('--secret <secret>', 'swarm secret (default: DFSS_SECRET)')
    .option('--reconnect-for <seconds>', 'keep trying to reach a lost tracker this long', parseSeconds, 60)
    .option('--request-timeout <seconds>', 'a segment request not answered in this time goes to another source', parseSeconds, 15)
    .option('--max-connections <n>', 'most incoming peer connections', parseIntOption, 256)
    .option('--max-requests <n>', `most queued requests per incoming connection (at least ${HONEST_PIPELINE}, the pipeline depth of honest peers)`, (v: string) => {
      const n = parseIntOption(v)
      if (n < HONEST_PIPELINE) throw new InvalidArgumentError(`must be at least ${HONEST_PIPELINE}: honest peers keep up to ${HONEST_PIPELINE} requests in flight per connection`)
      return n
    }, 64)
    .option('--idle-timeout <seconds>', 'close incoming peer connections idle this long', parseSeconds, 120)
    .option('--max-open-files <n>', 'most shared or downloaded files kept open at once (others are reopened when needed)', (v: string) => {
      const n = parseIntOption(v)
      if (n < 1) throw new InvalidArgumentError('must be at least 1')
      return n
    }, DEFAULT_MAX_OPEN_FILES)
    .option('--handshake-timeout <seconds>', 'time allowed for a handshake', parseSeconds, 10)

  type PeerFlags = { tracker: string, host: string, port: number, advertise?: string, uploadLimit?: number, secret?: string, reconnectFor: number, requestTimeout: number, maxConnections: number, maxRequests: number, handshakeTimeout: number, idleTimeout: number, maxOpenFiles: number }
  const common = (o: PeerFlags): PeerCliOptions => ({
    tracker: o.tracker,
    host: o.host,
    port: o.port,
    ...(o.advertise !== undefined ? { advertise: o.advertise } : {}),
    uploadLimit: o.uploadLimit ?? null,
    secret: secretOf(o),
    reconnectFor: o.reconnectFor,
    requestTimeout: o.requestTimeout,
    maxConnections: o.maxConnections,
    maxRequests: o.maxRequests,
    handshakeTimeout: o.handshakeTimeout,
    idleTimeout: o.idleTimeout,
    maxOpenFiles: o.maxOpenFiles
  })

  peerOpts(program.command('share'))
    .description('share files (a directory shares the files under it by relative path) until SIGINT/SIGTERM')
    .argument('<path...>', 'files or directories')
    .option('--segment-size <bytes>', 'segment size, e.g. 1MiB (max 16MiB; default 1MiB, 2MiB for files over 512MiB)', (v: string) => {
      const n = (() => { try { return parseRate(v) } catch (e) { throw new InvalidArgumentError((e as Error).message) } })()
      if (!Number.isInteger(n) || n < 1 || n > MAX_SEGMENT_BYTES) throw new InvalidArgumentError('must be a whole number of bytes from 1 to 16MiB')
      return n
    })
    .action(async (paths: string[], o: PeerFlags & { segmentSize?: number }) => {
      await guard('share', async () => await runShare(paths, { ...common(o), tuneV8: true, ...(o.segmentSize !== undefined ? { segmentSize: o.segmentSize } : {}) }, io))()
    })

  peerOpts(program.command('get'))
    .description('download files by name or glob from the swarm into a directory')
    .argument('<name...>', 'file names or glob patterns (quote them: "logs/*.csv")')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--seed', 'keep serving after the download until SIGINT/SIGTERM')
    .option('--linger <seconds>', 'after the download, keep serving peers that still download the same files and ask us, at most this long (0: leave at once)', parseLinger, DEFAULT_LINGER_S)
    .option('--json', 'one JSON event per line')
    .option('--no-direct-io', 'write through the page cache (default: past it, where the file system allows)')
    .action(async (names: string[], o: PeerFlags & { out: string, seed?: boolean, linger: number, json?: boolean, directIo: boolean }) => {
      const progress = o.json === true ? 'json' : process.stdout.isTTY ? 'tty' : 'plain'
      await guard('get', async () => await runGet(names, { ...common(o), tuneV8: true, out: o.out, seed: o.seed === true, linger: o.linger, directIo: o.directIo, progress }, io))()
      // Everything is on disk and every connection closed: leave now rather than after the loop drains
      // (a file handle's close could keep a getter alive 0.1-0.5 s longer when a swarm ends at once),
      // once what was written to stdout has gone out.
      process.stdout.write('', () => process.exit())
    })

  program.command('ls')
    .description("list the tracker's catalog (name, size, segments, seeds, peers)")
    .requiredOption('-t, --tracker <host:port>', 'the tracker')
    .argument('[glob]', 'only names matching this pattern', '')
    .option('--json', 'JSON output')
    .option('--secret <secret>', 'swarm secret (default: DFSS_SECRET)')
    .action(async (pattern: string, o: { tracker: string, json?: boolean, secret?: string }) => {
      await guard('ls', async () => await runLs({ tracker: o.tracker, pattern, json: o.json === true, secret: secretOf(o) }, io))()
    })

  program.command('bench')
    .description('benchmark DFSS against aria2, plain HTTP and the hash and fluid bounds (results under bench/results/)')
    .option('--scenario <name...>', 'classic, raw, swarm, scale (default: all)')
    .option('--runs <n>', 'runs per scenario', parseIntOption, 3)
    .option('--quick', 'small sizes and one run, for a fast check')
    .action(async (o: { scenario?: string[], runs: number, quick?: boolean }) => {
      const { runBench } = await import('../bench/index.ts')
      process.exitCode = await runBench({ scenarios: o.scenario ?? [], runs: o.quick === true ? 1 : o.runs, quick: o.quick === true, out: s => { process.stdout.write(s) }, err })
    })

  program.command('mpi')
    .description('run one rank under mpirun or srun (rank and size from the launcher); see `dfss mpi --help`')
    .allowUnknownOption()
    .helpOption(false)
  return program
}

/** CLI entry. */
export async function main (argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv)
}
