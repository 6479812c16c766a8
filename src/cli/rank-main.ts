import path from 'node:path'
import { parseArgs } from 'node:util'
import { runClassicRank } from '../classic/rank.ts'
import { readLaunchEnv } from '../launch/launcher-env.ts'
import { rendezvousFile } from '../launch/rendezvous.ts'

/** Re-exported for scripts/bundle.js, which runs a small swarm in one process to make the code cache. */
export { runClassicRank }

const USAGE = `Usage: dfss mpi [DIR] [options]     (run by mpirun / srun, one process per rank)

Runs one rank of a classic swarm: rank 0 is the tracker, rank R >= 1 reads DIR/inR.txt and writes
DIR/clientR_<file>. Rank and size come from the launcher's environment (Open MPI, PMIx, MPICH/PMI,
Slurm). Ranks find the tracker through a rendezvous directory shared by all of them.

Options:
  --rendezvous DIR   directory shared by all ranks (default: the working directory)
  --host ADDR        address rank 0 binds (default 127.0.0.1; use 0.0.0.0 across hosts)
  --stats FILE       rank 0 writes the run's stats JSON here
  --secret S         swarm secret (or DFSS_SECRET)
  --wait-tracker S   seconds a peer waits for rank 0's address (default 30)
  -h, --help         this help`

/**
 * The lean entry for `dfss mpi` and the internal `dfss rank` (used by `dfss run`): no CLI framework
 * is loaded, because start-up time of every rank adds to the run.
 */
export async function main (argv: string[]): Promise<number> {
  const sub = argv[0]
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    ({ values, positionals } = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        rendezvous: { type: 'string' },
        'stats-out': { type: 'string' },
        stats: { type: 'string' },
        host: { type: 'string' },
        secret: { type: 'string' },
        'wait-tracker': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    process.stderr.write(`dfss ${sub ?? ''}: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (values['help'] === true) { process.stdout.write(USAGE + '\n'); return 0 }
  const env = readLaunchEnv(process.env)
  if (env === null) {
    process.stderr.write('dfss mpi: no rank in the environment: start it with mpirun, srun or `dfss run -n N`\n')
    return 2
  }
  const dir = path.resolve((values['dir'] as string | undefined) ?? positionals[0] ?? '.')
  let rendezvous: string
  if (sub === 'rank') {
    rendezvous = values['rendezvous'] as string
  } else {
    rendezvous = rendezvousFile(path.resolve((values['rendezvous'] as string | undefined) ?? '.'), env.jobId)
  }
  const startedAt = Number(process.env['DFSS_STARTED_AT'] ?? '') || undefined
  const waitTracker = Number(values['wait-tracker'] ?? 30)
  const secret = (values['secret'] as string | undefined) ?? process.env['DFSS_SECRET'] ?? null
  return await runClassicRank({
    rank: env.rank,
    size: env.size,
    dir,
    rendezvous,
    statsFile: (values['stats-out'] as string | undefined) ?? (values['stats'] as string | undefined) ?? null,
    host: (values['host'] as string | undefined) ?? '127.0.0.1',
    secret: secret === '' ? null : secret,
    waitTrackerMs: waitTracker * 1000,
    ...(startedAt !== undefined ? { startedAt } : {}),
    log: line => { process.stderr.write(line + '\n') }
  })
}
