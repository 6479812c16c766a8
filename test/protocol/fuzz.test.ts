// Robustness: whatever bytes arrive, the decoders return/yield or throw a ProtocolError, never anything else.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeMessage, encodeMessage, encodeMessageBytes, MessageTag } from '../../src/protocol/messages.ts'
import { FrameDecoder } from '../../src/protocol/frame.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'
import type { ProtocolErrorCode } from '../../src/protocol/errors.ts'
import { messageArb } from './arbitraries.ts'

const CODES = new Set<ProtocolErrorCode>([
  'ERR_FRAME_TOO_LARGE', 'ERR_BUFFER_LIMIT', 'ERR_EMPTY_FRAME', 'ERR_UNKNOWN_MESSAGE', 'ERR_TRUNCATED', 'ERR_TRAILING_BYTES',
  'ERR_BAD_FIELD', 'ERR_BAD_HANDSHAKE', 'ERR_AUTH', 'ERR_UNEXPECTED_MESSAGE', 'ERR_LIMIT', 'ERR_TIMEOUT'
])
const TAGS = Object.values(MessageTag) as number[]

/** Runs fn; any throw other than a ProtocolError with a known code fails the property. */
function onlyProtocolErrors (fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`non-ProtocolError thrown: ${String(err)}`, { cause: err })
    if (!CODES.has(err.code)) throw new Error(`unknown ProtocolError code ${String(err.code)}`, { cause: err })
  }
}

let inputs = 0

/** Feeds one input to decodeMessage (as a body) and to two FrameDecoders (as a stream, split at `cut`). */
function feed (input: Buffer, cut: number): void {
  inputs++
  onlyProtocolErrors(() => {
    const m = decodeMessage(input)
    // anything the decoder accepts must be encodable again
    encodeMessage(m)
  })
  for (const maxFrameBytes of [undefined, 64]) {
    const d = new FrameDecoder(maxFrameBytes === undefined ? {} : { maxFrameBytes })
    const at = cut % (input.length + 1)
    onlyProtocolErrors(() => {
      for (const chunk of [input.subarray(0, at), input.subarray(at)]) {
        for (const b of d.push(chunk)) onlyProtocolErrors(() => { decodeMessage(b) })
      }
    })
  }
}

type Op =
  | { k: 'flip', pos: number, bit: number }
  | { k: 'truncate', len: number }
  | { k: 'insert', pos: number, bytes: Uint8Array }
  | { k: 'delete', pos: number, n: number }
  | { k: 'set32', pos: number, value: number }
  | { k: 'set8', pos: number, value: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('truncate' as const), len: fc.nat() }),
  fc.record({ k: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ k: fc.constant('delete' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant('set32' as const), pos: fc.nat(), value: fc.constantFrom(0, 1, 2, 255, 256, 4096, 4097, 0x7fffffff, 0x80000000, 0xffffffff) }),
  fc.record({ k: fc.constant('set8' as const), pos: fc.nat(), value: fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff) })
)

function mutate (input: Buffer, ops: Op[]): Buffer {
  let b = Buffer.from(input)
  for (const op of ops) {
    switch (op.k) {
      case 'flip': if (b.length > 0) { const p = op.pos % b.length; b[p] = (b[p] as number) ^ (1 << op.bit) } break
      case 'truncate': b = b.subarray(0, op.len % (b.length + 1)); break
      case 'insert': { const p = op.pos % (b.length + 1); b = Buffer.concat([b.subarray(0, p), op.bytes, b.subarray(p)]); break }
      case 'delete': { const p = op.pos % (b.length + 1); b = Buffer.concat([b.subarray(0, p), b.subarray(p + op.n)]); break }
      case 'set32': if (b.length >= 4) { const p = op.pos % (b.length - 3); b.writeUInt32BE(op.value, p) } break
      case 'set8': if (b.length > 0) b[op.pos % b.length] = op.value; break
    }
  }
  return b
}

describe('fuzz: decoders throw only ProtocolError', () => {
  const started = Date.now()

  it('random byte arrays', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(), (bytes, cut) => {
      feed(Buffer.from(bytes), cut)
    }), { seed: 42, numRuns: 30_000 })
  })

  it('random bodies behind a valid tag, also framed with a correct length prefix', () => {
    fc.assert(fc.property(fc.constantFrom(...TAGS), fc.uint8Array({ maxLength: 80 }), fc.nat(), (tag, rest, cut) => {
      const bodyBytes = Buffer.concat([Buffer.from([tag]), rest])
      feed(bodyBytes, cut)
      const framed = Buffer.alloc(4 + bodyBytes.length)
      framed.writeUInt32BE(bodyBytes.length, 0)
      bodyBytes.copy(framed, 4)
      feed(framed, cut)
    }), { seed: 42, numRuns: 20_000 })
  })

  it('mutations (bit flips, truncations, insertions, deletions, u8/u32 overwrites) of valid encoded messages', () => {
    fc.assert(fc.property(fc.array(messageArb, { minLength: 1, maxLength: 3 }), fc.array(opArb, { minLength: 1, maxLength: 4 }), fc.nat(), (msgs, ops, cut) => {
      const stream = Buffer.concat(msgs.map(encodeMessageBytes))
      const mutated = mutate(stream, ops)
      feed(mutated, cut) // as a stream: the length prefixes may be hit too
      const firstBody = encodeMessageBytes(msgs[0] as (typeof msgs)[number]).subarray(4)
      feed(mutate(firstBody, ops), cut) // as a body: mutations land in the fields
    }), { seed: 42, numRuns: 30_000 })
  })

  // Runs last (tests of a suite run in order): the budget is at least 100,000 inputs in well under 20 s.
  it('tried at least 100,000 inputs in under 20 s', t => {
    t.diagnostic(`${inputs} inputs in ${Date.now() - started} ms`)
    assert.ok(inputs >= 100_000, `only ${inputs} inputs were tried`)
    assert.ok(Date.now() - started < 20_000, `fuzzing took ${Date.now() - started} ms`)
  })

  it('the checker itself catches a foreign error (so the properties above can fail)', () => {
    assert.throws(() => onlyProtocolErrors(() => { throw new RangeError('boom') }), /non-ProtocolError/)
    assert.doesNotThrow(() => onlyProtocolErrors(() => { throw new ProtocolError('ERR_TRUNCATED', 'x') }))
  })
})
