#!/bin/sh
':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"
// Started as a program, the lines above are a shell script that runs Node on this file without
// NODE_EXTRA_CA_CERTS (to Node they are a string and a comment): DFSS opens no TLS connection, and
// parsing a system CA bundle costs every process about 80 ms on our machines.
// Entry point: the bundled entry with its code cache when built (scripts/bundle.js), else the modules.
// Ranks started by `dfss run` / mpirun take a lean entry without the CLI parser.
'use strict'
// CommonJS (bin/package.json): no ES module loader to start unless the bundle is missing or stale.
const { debuglog } = require('node:util')
const { appliedV8Flags, loadBundle } = require('./bundle-loader.js')

async function start () {
  const sub = process.argv[2]
  const lean = sub === 'rank' || sub === 'mpi'
  // `dfss bench` loads an ES-only package on demand, which a bundle run through node:vm cannot import.
  const bundle = sub === 'bench' ? null : loadBundle(lean ? 'rank' : 'cli')
  debuglog('dfss:boot')('%s entry: %s, V8 flags set: %s', lean ? 'rank' : 'cli', bundle === null ? 'modules (no current bundle, or dfss bench)' : `bundle, code cache ${bundle.cacheRejected === null ? 'missing' : bundle.cacheRejected ? 'rejected' : 'accepted'}`, appliedV8Flags().join(' ') || 'none')
  if (lean) {
    const { main } = bundle?.exports ?? await import('../dist/src/cli/rank-main.js')
    process.exitCode = await main(process.argv.slice(2))
  } else {
    const { main } = bundle?.exports ?? await import('../dist/src/cli/main.js')
    await main(process.argv)
  }
}
start().catch(err => { console.error(err); process.exitCode = 1 })
