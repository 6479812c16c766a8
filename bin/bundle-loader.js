// Loads the one-file bundle of the rank entry (dist/src/rank.bundle.cjs) together with its V8 code
// cache. Ranks are many short processes started at once: a bundle skips the module resolution of ~40
// ES modules, and the cache skips compiling them. Built by scripts/bundle.js.
import { readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import vm from 'node:vm'

const DIST = fileURLToPath(new URL('../dist/src/', import.meta.url))
export const BUNDLE = path.join(DIST, 'rank.bundle.cjs')
export const CODE_CACHE = path.join(DIST, 'rank.bundle.cache')
/** The compiled module the bundle is made from: a bundle older than it is stale. */
const SOURCE = path.join(DIST, 'cli', 'rank-main.js')

/**
 * The bundle's exports, the compiled script (for making a code cache) and whether V8 took the cache
 * (null: no cache). Null when there is no bundle or it is older than the compiled sources.
 */
export function loadRankBundle ({ useCache = true } = {}) {
  let source
  try {
    if (statSync(BUNDLE).mtimeMs < statSync(SOURCE).mtimeMs) return null
    source = readFileSync(BUNDLE, 'utf8')
  } catch {
    return null
  }
  let cachedData
  if (useCache) { try { cachedData = readFileSync(CODE_CACHE) } catch {} }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: BUNDLE, cachedData })
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(BUNDLE), module, BUNDLE, DIST)
  return { exports: module.exports, script, cacheRejected: cachedData === undefined ? null : script.cachedDataRejected }
}
