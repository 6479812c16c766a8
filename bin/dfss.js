#!/usr/bin/env node
// Entry point. Ranks started by `dfss run` / mpirun take a lean path that skips the CLI parser.
const sub = process.argv[2]
if (sub === 'rank' || sub === 'mpi') {
  const { main } = await import('../dist/src/cli/rank-main.js')
  process.exitCode = await main(process.argv.slice(2))
} else {
  const { main } = await import('../dist/src/cli/main.js')
  await main(process.argv)
}
