// fast-check arbitraries for the wire protocol, shared by messages.test.ts and fuzz.test.ts.
import fc from 'fast-check'
import { HASH_BYTES, MAX_SEGMENT_BYTES, NONCE_BYTES } from '../../src/protocol/messages.ts'
import type { FileMeta, Message } from '../../src/protocol/messages.ts'

/** fc.record, but never with a null prototype (deepStrictEqual compares prototypes with the decoder's plain objects). */
function rec<T> (model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>
}

const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
/** Well-formed strings over the whole Unicode range (no lone surrogates: those cannot survive UTF-8). */
export const str = fc.string({ unit: 'binary', maxLength: 12 })
const buf = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength, maxLength }).map(u => Buffer.from(u))

/** A FileMeta whose segment count matches its size (the decoder refuses anything else). */
export const fileMetaArb: fc.Arbitrary<FileMeta> = rec({
  name: str,
  segmentSize: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: MAX_SEGMENT_BYTES })),
  count: fc.integer({ min: 0, max: 3 }),
  lastPart: fc.nat(),
  algo: fc.constantFrom('classic' as const, 'sha256' as const)
}).chain(({ name, segmentSize, count, lastPart, algo }) => {
  const size = count === 0 ? 0 : (count - 1) * segmentSize + 1 + (lastPart % segmentSize)
  return buf(count * HASH_BYTES, count * HASH_BYTES).map(hashes => ({ name, size, segmentSize, algo, hashes }))
})

const haveMapArb = rec({ file: str, count: fc.integer({ min: 0, max: 70 }) }).chain(({ file, count }) =>
  buf(Math.ceil(count / 8), Math.ceil(count / 8)).map(bits => ({ type: 'have-map' as const, file, count, bits })))

/** Every variant of the Message union. */
export const messageArbs = {
  hello: rec({
    type: fc.constant('hello' as const),
    version: fc.integer({ min: 0, max: 255 }),
    auth: fc.boolean(),
    role: fc.constantFrom('tracker' as const, 'peer' as const, 'client' as const),
    id: u32,
    nonce: buf(NONCE_BYTES, NONCE_BYTES)
  }),
  auth: rec({ type: fc.constant('auth' as const), mac: buf(32, 32) }),
  error: rec({ type: fc.constant('error' as const), code: str, message: str }),
  register: rec({
    type: fc.constant('register' as const),
    host: str,
    port: u16,
    files: fc.array(fileMetaArb, { maxLength: 3 }),
    wants: fc.array(str, { maxLength: 4 })
  }),
  ack: rec({ type: fc.constant('ack' as const), peerId: u32 }),
  'req-swarm': rec({ type: fc.constant('req-swarm' as const), file: str, withMeta: fc.boolean() }),
  swarm: rec({
    type: fc.constant('swarm' as const),
    file: str,
    meta: fc.option(fileMetaArb, { nil: null }),
    members: fc.array(rec({ id: u32, host: str, port: u16, uploads: u32, seed: fc.boolean() }), { maxLength: 4 })
  }),
  'req-catalog': rec({ type: fc.constant('req-catalog' as const), pattern: str }),
  catalog: rec({
    type: fc.constant('catalog' as const),
    entries: fc.array(rec({ name: str, size: fc.maxSafeNat(), segments: u32, seeds: u32, peers: u32 }), { maxLength: 4 })
  }),
  'file-done': rec({ type: fc.constant('file-done' as const), file: str }),
  'client-fin': rec({
    type: fc.constant('client-fin' as const),
    transfers: fc.array(rec({ from: u32, file: str, segments: u32 }), { maxLength: 4 })
  }),
  close: fc.constant({ type: 'close' as const }),
  'req-upld-info': rec({ type: fc.constant('req-upld-info' as const), seq: u32 }),
  'upld-info': rec({ type: fc.constant('upld-info' as const), seq: u32, uploads: u32 }),
  'req-chunk': rec({ type: fc.constant('req-chunk' as const), reqId: u32, index: u32, file: str }),
  chunk: rec({ type: fc.constant('chunk' as const), reqId: u32, index: u32, holdUs: u32, data: buf(0, 64) }),
  'no-chunk': rec({ type: fc.constant('no-chunk' as const), reqId: u32 }),
  'req-have': rec({ type: fc.constant('req-have' as const), file: str }),
  'have-map': haveMapArb,
  have: rec({ type: fc.constant('have' as const), index: u32, file: str }),
  haves: rec({ type: fc.constant('haves' as const), file: str, indexes: fc.array(u32, { maxLength: 20 }) })
} satisfies { [K in Message['type']]: fc.Arbitrary<Extract<Message, { type: K }>> }

/** Any message of the union, every variant equally likely. */
export const messageArb: fc.Arbitrary<Message> = fc.oneof(...Object.values(messageArbs) as Array<fc.Arbitrary<Message>>)
