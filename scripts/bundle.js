#!/usr/bin/env node
// Build step after tsc: bundles the two entries (ranks; the CLI) into one CommonJS file each beside
// them in dist/src/cli/, and makes their V8 code caches. Each cache is made in a process of its own
// (`bundle.js --cache NAME`), under the V8 flags that bundle runs with (V8_SETUP in
// bin/bundle-loader.js), after running the bundled code once so that what it runs is compiled: the
// rank cache after the tracker and the example peers on loopback in that process, the CLI cache after a
// tracker, a share and a get.
// Usage: node scripts/bundle.js   (run by `npm run build`, `npm test`, `npm run demo`, `npm run bench`)
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BUNDLES, CLI_DIR, bundlePath, cachePath, inputsPath, loadBundle } from '../bin/bundle-loader.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/** Writes both bundles and the list of modules each was made from; removes their old caches. */
async function buildBundles () {
  for (const [name, entry] of Object.entries(BUNDLES)) {
    await rm(cachePath(name), { force: true })
    const result = await build({
      metafile: true,
      absWorkingDir: root,
      entryPoints: [path.join(CLI_DIR, entry)],
      outfile: bundlePath(name),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // Packages (commander, picomatch, cli-progress) go in too, so the code cache covers them and no
      // process resolves and compiles them. The bench (a dev tool that loads an ES-only package) stays
      // out: bin/dfss.js runs `dfss bench` from the modules.
      external: ['../bench/index.js'],
      // import.meta.url (createRequire, paths next to a module) becomes the bundle's own URL; the bundle
      // sits in the same directory depth as every module, so relative URLs resolve the same.
      define: { 'import.meta.url': '__bundleUrl' },
      banner: { js: 'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
      logLevel: 'warning'
    })
    // The modules it was made from: the loader falls back to them when any is newer than the bundle.
    const inputs = Object.keys(result.metafile.inputs).map(f => path.relative(CLI_DIR, path.resolve(root, f)))
    await writeFile(inputsPath(name), JSON.stringify(inputs) + '\n')
  }
}

/** Output callbacks for a warm-up command and the first match of `re` in them (its first group), within 60 s. */
function outputMatch (re, what) {
  let found
  const match = new Promise((resolve, reject) => {
    found = resolve
    setTimeout(() => reject(new Error(`warm-up: ${what} did not start within 60 s`)), 60_000).unref()
  })
  return { match, io: { out: s => { const m = re.exec(s); if (m !== null) found(m[1] ?? m[0]) }, err: () => {} } }
}

async function writeCache (name, script) {
  const tmp = `${cachePath(name)}.${process.pid}.tmp`
  await writeFile(tmp, script.createCachedData())
  await rename(tmp, cachePath(name))
}

/** Warm-up of the rank bundle: the example swarm, every rank in this process. */
async function warmRank (rank) {
  const examples = path.join(root, 'examples/classic')
  const work = await mkdtemp(path.join(os.tmpdir(), 'dfss-bundle-'))
  try {
    const inputs = (await readdir(examples)).filter(f => /^in[0-9]+\.txt$/.test(f))
    for (const f of inputs) await copyFile(path.join(examples, f), path.join(work, f))
    const size = inputs.length + 1
    const rendezvous = path.join(work, '.dfss-tracker.addr')
    const problems = []
    const codes = await Promise.all(Array.from({ length: size }, (_, r) => rank.runClassicRank({
      rank: r, size, dir: work, rendezvous, statsFile: r === 0 ? path.join(work, 'stats.json') : null, log: line => { problems.push(line) }
    })))
    if (codes.some(c => c !== 0)) throw new Error(`warm-up swarm failed (exit codes ${codes.join(' ')}): ${problems.join('; ')}`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/**
 * Warm-up of the CLI: a tracker, a share and a get of a small file on loopback, in this process, so
 * that the code cache holds what `dfss get` and `dfss share` run, not only what loading compiles.
 */
async function warmCli (cli) {
  const real = await mkdtemp(path.join(os.tmpdir(), 'dfss-bundle-real-'))
  try {
    const file = path.join(real, 'warm.bin')
    await writeFile(file, randomBytes(3 * 65536 + 123))
    const sink = { out: () => {}, err: () => {} }
    let stopTracker, stopShare
    const tracker = outputMatch(/listening on (\S+)/, 'the tracker')
    const trackerDone = cli.runTracker({ host: '127.0.0.1', port: 0, secret: null }, tracker.io, new Promise(resolve => { stopTracker = resolve }))
    const addr = await tracker.match
    const share = outputMatch(/^sharing/, 'the share')
    const shareDone = cli.runShare([file], { tracker: addr, host: '127.0.0.1', segmentSize: 65536 }, share.io, new Promise(resolve => { stopShare = resolve }))
    await share.match
    const got = await cli.runGet(['warm.*'], { tracker: addr, host: '127.0.0.1', out: path.join(real, 'out'), progress: 'plain' }, sink,
      new Promise(resolve => { setTimeout(resolve, 60_000).unref() }))
    stopShare()
    await shareDone
    stopTracker()
    await trackerDone
    if (got !== 0) throw new Error(`warm-up get failed with ${got}`)
  } finally {
    await rm(real, { recursive: true, force: true })
  }
}

/** What runs each bundle once before its code cache is made. */
const WARM_UPS = { rank: warmRank, cli: warmCli }

/** In a process of its own: loads bundle `name` (which sets its V8 flags), warms it up, writes and checks its cache. */
async function makeCache (name) {
  const loaded = loadBundle(name, { useCache: false })
  if (loaded === null) throw new Error(`the ${name} bundle was not written`)
  await WARM_UPS[name](loaded.exports)
  await writeCache(name, loaded.script)
  const check = loadBundle(name)
  if (check === null || check.cacheRejected !== false) {
    await rm(cachePath(name), { force: true })
    throw new Error(`the code cache of the ${name} bundle is not accepted`)
  }
}

if (process.argv[2] === '--cache') {
  await makeCache(process.argv[3])
} else {
  await buildBundles()
  for (const name of Object.keys(BUNDLES)) {
    const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cache', name], { stdio: 'inherit', timeout: 180_000 })
    if (res.status !== 0) throw new Error(`making the code cache of the ${name} bundle failed (${res.error?.message ?? `exit ${res.status ?? res.signal}`})`)
  }
  console.log(`bundles: ${Object.keys(BUNDLES).map(n => path.relative(root, bundlePath(n))).join(', ')}, with code caches`)
}
