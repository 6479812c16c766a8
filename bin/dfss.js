#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// (DFSS opens no TLS connection: extra CA certificates would only slow every start, ~80 ms here.)
// Entry point. Ranks started by `dfss run` / mpirun take a lean path: the bundled rank entry with its
// code cache when it is built (scripts/bundle.js), else the rank module; neither loads the CLI parser.
import { debuglog } from 'node:util'

const sub = process.argv[2]
if (sub === 'rank' || sub === 'mpi') {
  const { loadRankBundle } = await import('./bundle-loader.js')
  const bundle = loadRankBundle()
  debuglog('dfss:boot')('rank entry: %s', bundle === null ? 'modules (no current bundle)' : `bundle, code cache ${bundle.cacheRejected === null ? 'missing' : bundle.cacheRejected ? 'rejected' : 'accepted'}`)
  const { main } = bundle?.exports ?? await import('../dist/src/cli/rank-main.js')
  process.exitCode = await main(process.argv.slice(2))
} else {
  const { main } = await import('../dist/src/cli/main.js')
  await main(process.argv)
}
