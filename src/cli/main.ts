import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { InputError } from '../classic/input.ts'
import { runSwarm } from '../launch/run.ts'
import { formatSummary } from '../launch/stats.ts'
import { runDemo } from './demo.ts'

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }

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
          process.exitCode = 1
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
