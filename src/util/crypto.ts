import type * as Crypto from 'node:crypto'
import { lazyRequire } from './lazy-require.ts'

// `import ... from 'node:crypto'` makes Node build the whole ESM namespace, which evaluates the lazy
// `webcrypto` getter: about 40 ms per process. The CommonJS object is taken instead, and only on first
// use: a classic peer without a swarm secret never needs it (its HELLO nonce is unused), and loading
// it costs every one of a run's processes 2-3 ms of CPU.
const load = lazyRequire<typeof Crypto>('node:crypto')

export const createHash: typeof Crypto.createHash = (algorithm, options) => load().createHash(algorithm, options)
export const createHmac: typeof Crypto.createHmac = (algorithm, key, options) => load().createHmac(algorithm, key, options)
export const randomBytes = (size: number): Buffer => load().randomBytes(size)
export const timingSafeEqual: typeof Crypto.timingSafeEqual = (a, b) => load().timingSafeEqual(a, b)
