#!/usr/bin/env node
// Build step after tsc: bundles the rank entry into dist/src/rank.bundle.cjs and makes its V8 code
// cache by running the bundled code once, a tracker and the example peers in this process on loopback.
// Usage: node scripts/bundle.js   (run by `npm run build`, `npm test`, `npm run demo`, `npm run bench`)
import { build } from 'esbuild'
import { copyFile, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BUNDLE, CODE_CACHE, loadRankBundle } from '../bin/bundle-loader.js'

const root = fileURLToPath(new URL('..', import.meta.url))

await rm(CODE_CACHE, { force: true })
await build({
  entryPoints: [path.join(root, 'dist/src/cli/rank-main.js')],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import.meta.url (createRequire, paths next to a module) becomes the bundle's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning'
})

const loaded = loadRankBundle({ useCache: false })
if (loaded === null) throw new Error(`${BUNDLE} was not written`)

// Warm-up: the example swarm, every rank in this process, so the functions of both the tracker and
// the peers are compiled when the cache is made.
const examples = path.join(root, 'examples/classic')
const work = await mkdtemp(path.join(os.tmpdir(), 'dfss-bundle-'))
try {
  const inputs = (await readdir(examples)).filter(f => /^in[0-9]+\.txt$/.test(f))
  for (const f of inputs) await copyFile(path.join(examples, f), path.join(work, f))
  const size = inputs.length + 1
  const rendezvous = path.join(work, '.dfss-tracker.addr')
  const problems = []
  const codes = await Promise.all(Array.from({ length: size }, (_, rank) => loaded.exports.runClassicRank({
    rank, size, dir: work, rendezvous, statsFile: rank === 0 ? path.join(work, 'stats.json') : null, log: line => { problems.push(line) }
  })))
  if (codes.some(c => c !== 0)) throw new Error(`warm-up swarm failed (exit codes ${codes.join(' ')}): ${problems.join('; ')}`)
  const tmp = `${CODE_CACHE}.${process.pid}.tmp`
  await writeFile(tmp, loaded.script.createCachedData())
  await rename(tmp, CODE_CACHE)
} finally {
  await rm(work, { recursive: true, force: true })
}
const check = loadRankBundle()
if (check === null || check.cacheRejected !== false) throw new Error('the code cache just made is not accepted')
console.log(`bundle: ${path.relative(root, BUNDLE)} and its code cache`)
