import { createRequire } from 'node:module'
import type * as Crypto from 'node:crypto'

// `import ... from 'node:crypto'` makes Node build the whole ESM namespace, which evaluates the lazy
// `webcrypto` getter: about 40 ms per process. Every rank of a classic run pays it, so the CommonJS
// object is taken instead and only what DFSS uses is exported.
const crypto = createRequire(import.meta.url)('node:crypto') as typeof Crypto

export const createHash = crypto.createHash
export const createHmac = crypto.createHmac
export const randomBytes = crypto.randomBytes
export const timingSafeEqual = crypto.timingSafeEqual
