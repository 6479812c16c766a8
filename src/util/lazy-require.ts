import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

/**
 * A loader of CommonJS module `id` (a built-in, or a package beside the project) that requires it on its
 * first call and returns the same object after. For modules only some processes need: every `dfss`
 * process pays for what it loads at start, and a bundle loads its static imports at start.
 */
export function lazyRequire<T> (id: string): () => T {
  let loaded: T | undefined
  return () => (loaded ??= require(id) as T)
}
