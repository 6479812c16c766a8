// Loads a one-file bundle of an entry module (dist/src/cli/<name>.bundle.cjs) with its V8 code cache.
// Every rank, tracker and getter is a process of its own, and start-up time is paid by each: a bundle
// skips resolving ~50 ES modules one by one, and the cache skips compiling them. Made by scripts/bundle.js.
// CommonJS (bin/package.json), like dfss.js: an ES module entry costs every process the start of
// Node's ES module loader, about 8 ms of CPU here.
'use strict'
const { readFileSync, statSync } = require('node:fs')
const { createRequire } = require('node:module')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')

/** Where the compiled modules and the bundles live (bundles sit beside their entry, so relative URLs hold). */
const CLI_DIR = path.join(__dirname, '..', 'dist', 'src', 'cli') + path.sep
exports.CLI_DIR = CLI_DIR

/** The bundles: name -> the compiled entry module it is made from. */
exports.BUNDLES = { rank: 'rank-main.js', cli: 'main.js' }

/**
 * The V8 flags a bundle's process runs with, set just before the bundle is compiled, and the built-in
 * modules loaded before them. V8 takes a code cache only under the flags it was made with, so
 * scripts/bundle.js makes each cache in a process of its own with the same flags; Node's built-in
 * modules have code caches of their own, refused the same way, so those the process always loads come
 * first (otherwise each is compiled from source: parsing rose from 4% to 6.5% of a flash crowd's CPU).
 *
 * Ranks: a classic rank lives a fraction of a second and moves at most 10 files of 100 segments, so
 * code it optimises is rarely run again: in a 33-rank flash crowd, V8's optimising compiler took 10% of
 * all CPU (perf, 2026-11-25). Ten times V8's interrupt budget (default 67,584) keeps it for code that
 * stays hot, such as the tracker of a large swarm. `net` loads `cluster` and `dns` on first use (listen,
 * connect), `performance` loads perf_hooks, `util.parseArgs` its parser. Not `node:crypto`: only rank 0
 * (file ids) and ranks with a swarm secret use it, and they compile it from source.
 */
const V8_SETUP = {
  rank: {
    flags: ['--interrupt-budget=675840'],
    preload: () => {
      for (const m of ['node:fs/promises', 'node:timers/promises', 'node:net', 'node:dns', 'node:cluster', 'node:perf_hooks']) require(m)
      void require('node:util').parseArgs
    }
  }
}

/** The V8 flags this process set through applyV8Flags. */
const appliedFlags = []
exports.appliedV8Flags = () => [...appliedFlags]

/** Sets bundle `name`'s V8 flags (see V8_SETUP), first loading the built-ins it will use. */
function applyV8Flags (name) {
  const setup = V8_SETUP[name]
  if (setup === undefined) return
  setup.preload()
  for (const flag of setup.flags) {
    v8.setFlagsFromString(flag)
    appliedFlags.push(flag)
  }
}

function bundlePath (name) { return path.join(CLI_DIR, `${name}.bundle.cjs`) }
function cachePath (name) { return path.join(CLI_DIR, `${name}.bundle.cache`) }
/** The compiled modules a bundle was made from (JSON list of paths relative to CLI_DIR). */
function inputsPath (name) { return path.join(CLI_DIR, `${name}.bundle.inputs.json`) }
exports.bundlePath = bundlePath
exports.cachePath = cachePath
exports.inputsPath = inputsPath

/** False when any module the bundle was made from is newer than it (a `tsc` without the bundle step). */
function current (name) {
  const built = statSync(bundlePath(name)).mtimeMs
  const inputs = JSON.parse(readFileSync(inputsPath(name), 'utf8'))
  for (const f of inputs) if (statSync(path.join(CLI_DIR, f)).mtimeMs > built) return false
  return true
}

/**
 * The bundle's exports, the compiled script (for making a code cache) and whether V8 took the cache
 * (null: no cache). Null whenever the bundle cannot be used (none, stale, or failing to load), so the
 * caller falls back to the modules.
 */
function loadBundle (name, { useCache = true } = {}) {
  const file = bundlePath(name)
  try {
    if (!current(name)) return null
    applyV8Flags(name)
    const source = readFileSync(file, 'utf8')
    let cachedData
    if (useCache) { try { cachedData = readFileSync(cachePath(name)) } catch {} }
    const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
      filename: file,
      cachedData,
      // Node >= 20.12; without it a dynamic import() in the bundle fails, and none runs outside `dfss bench`.
      importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER
    })
    const module = { exports: {} }
    script.runInThisContext()(module.exports, createRequire(file), module, file, CLI_DIR)
    return { exports: module.exports, script, cacheRejected: cachedData === undefined ? null : script.cachedDataRejected }
  } catch {
    return null
  }
}
exports.loadBundle = loadBundle
