import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { decodeMessage, encodeMessage, encodeMessageBytes, countSegments, MessageTag } from '../../src/protocol/messages.ts'
import type { Message } from '../../src/protocol/messages.ts'
import { FrameDecoder } from '../../src/protocol/frame.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'
import type { ProtocolErrorCode } from '../../src/protocol/errors.ts'
import { MAX_STRING_BYTES } from '../../src/protocol/bytes.ts'
import { messageArb, messageArbs } from './arbitraries.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const body = (m: Message): Buffer => encodeMessageBytes(m).subarray(4)

function rejects (bytes: Buffer, code: ProtocolErrorCode): void {
  assert.throws(() => decodeMessage(bytes), (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    return true
  })
}

// Expected bytes worked out by hand from messages.ts/bytes.ts: u32 BE body length, u8 tag, then the fields
// (u16/u32/u64 big-endian, strings as u16 byte length + UTF-8).
const golden: Array<{ name: string, msg: Message, hex: string }> = [
  { name: 'close', msg: { type: 'close' }, hex: '00000001 18' },
  { name: 'ack(7)', msg: { type: 'ack', peerId: 7 }, hex: '00000005 11 00000007' },
  { name: 'req-chunk', msg: { type: 'req-chunk', reqId: 1, index: 2, file: 'ab' }, hex: '0000000d 20 00000001 00000002 0002 6162' },
  { name: 'no-chunk', msg: { type: 'no-chunk', reqId: 0x01020304 }, hex: '00000005 22 01020304' },
  { name: 'req-upld-info', msg: { type: 'req-upld-info', seq: 9 }, hex: '00000005 19 00000009' },
  { name: 'upld-info', msg: { type: 'upld-info', seq: 1, uploads: 256 }, hex: '00000009 1a 00000001 00000100' },
  { name: 'have', msg: { type: 'have', index: 1, file: 'f' }, hex: '00000008 25 00000001 0001 66' },
  { name: 'haves', msg: { type: 'haves', file: 'f', indexes: [1, 258] }, hex: '00000010 26 0001 66 00000002 00000001 00000102' },
  { name: 'file-done', msg: { type: 'file-done', file: 'file1' }, hex: '00000008 16 0005 66696c6531' },
  { name: 'file-done, 2-byte UTF-8 name', msg: { type: 'file-done', file: 'é' }, hex: '00000005 16 0002 c3a9' },
  {
    name: 'hello with a fixed nonce',
    msg: { type: 'hello', version: 1, auth: true, role: 'peer', id: 5, nonce: hex('000102030405060708090a0b0c0d0e0f') },
    hex: '0000001c 01 44465353 01 01 01 00000005 000102030405060708090a0b0c0d0e0f'
  },
  {
    name: 'hello, client without auth',
    msg: { type: 'hello', version: 1, auth: false, role: 'client', id: 0xffffffff, nonce: Buffer.alloc(16, 0xee) },
    hex: '0000001c 01 44465353 01 00 02 ffffffff' + 'ee'.repeat(16)
  },
  { name: 'auth', msg: { type: 'auth', mac: Buffer.alloc(32, 0xab) }, hex: '00000021 02' + 'ab'.repeat(32) },
  { name: 'error', msg: { type: 'error', code: 'E', message: 'hi' }, hex: '00000008 03 0001 45 0002 6869' },
  { name: 'register', msg: { type: 'register', host: 'h', port: 6881, files: [], wants: ['a'] }, hex: '00000011 10 0001 68 1ae1 00000000 00000001 0001 61' },
  { name: 'req-swarm', msg: { type: 'req-swarm', file: 'f', withMeta: true }, hex: '00000005 12 01 0001 66' },
  {
    name: 'swarm with meta and one member',
    msg: {
      type: 'swarm',
      file: 'f',
      meta: { name: 'f', size: 0, segmentSize: 1, algo: 'classic', hashes: Buffer.alloc(0) },
      members: [{ id: 2, host: 'h', port: 80, uploads: 3, seed: true }]
    },
    hex: '0000002b 13 0001 66 01' +
      ' 0001 66 0000000000000000 00000001 00 00000000' + // meta: name, u64 size, u32 segment size, u8 algo, u32 count
      ' 00000001 00000002 0001 68 0050 00000003 01' // members
  },
  { name: 'req-catalog', msg: { type: 'req-catalog', pattern: '*' }, hex: '00000004 14 0001 2a' },
  {
    name: 'catalog, u64 size above 2^32',
    msg: { type: 'catalog', entries: [{ name: 'a', size: 2 ** 32, segments: 1, seeds: 2, peers: 3 }] },
    hex: '0000001c 15 00000001 0001 61 0000000100000000 00000001 00000002 00000003'
  },
  { name: 'client-fin', msg: { type: 'client-fin', transfers: [{ from: 1, file: 'f', segments: 2 }] }, hex: '00000010 17 00000001 00000001 0001 66 00000002' },
  { name: 'req-have', msg: { type: 'req-have', file: 'f' }, hex: '00000004 23 0001 66' },
  { name: 'have-map', msg: { type: 'have-map', file: 'f', count: 9, bits: hex('ff80') }, hex: '0000000a 24 0001 66 00000009 ff80' }
]

describe('golden vectors', () => {
  for (const g of golden) {
    it(`${g.name} encodes to ${g.hex.replace(/\s+/g, '')}`, () => {
      assert.equal(encodeMessageBytes(g.msg).toString('hex'), hex(g.hex).toString('hex'))
    })
    it(`${g.name} decodes from its golden bytes`, () => {
      assert.deepEqual(decodeMessage(hex(g.hex).subarray(4)), g.msg)
    })
  }

  it('chunk: the payload is a separate part, not copied into the header', () => {
    const data = Buffer.from('abc')
    const parts = encodeMessage({ type: 'chunk', reqId: 1, index: 0, holdUs: 1500, data })
    assert.equal(parts.length, 2)
    assert.equal(parts[0]?.toString('hex'), hex('00000010 21 00000001 00000000 000005dc').toString('hex'))
    assert.equal(parts[1], data, 'payload part must be the very same Buffer')
    assert.equal(encodeMessageBytes({ type: 'chunk', reqId: 1, index: 0, holdUs: 1500, data }).toString('hex'), '000000102100000001000000' + '00000005dc616263')
  })

  it('chunk with an empty payload is a single part', () => {
    const parts = encodeMessage({ type: 'chunk', reqId: 2, index: 3, holdUs: 0xffffffff, data: Buffer.alloc(0) })
    assert.equal(parts.length, 1)
    assert.equal(parts[0]?.toString('hex'), '0000000d' + '21' + '00000002' + '00000003' + 'ffffffff')
  })

  it('the golden vectors cover every message tag', () => {
    const tags = new Set(golden.map(g => hex(g.hex)[4]))
    tags.add(MessageTag.Chunk)
    assert.deepEqual([...tags].sort((a, b) => (a ?? 0) - (b ?? 0)), Object.values(MessageTag).sort((a, b) => a - b))
  })
})

describe('round trips', () => {
  for (const [type, arb] of Object.entries(messageArbs)) {
    it(`${type}: decodeMessage(encodeMessageBytes(m).subarray(4)) deep-equals m`, () => {
      fc.assert(fc.property(arb as fc.Arbitrary<Message>, m => {
        assert.deepEqual(decodeMessage(body(m)), m)
        // The length prefix always equals the body length.
        const framed = encodeMessageBytes(m)
        assert.equal(framed.readUInt32BE(0), framed.length - 4)
      }), { seed: 42, numRuns: 300 })
    })
  }

  it('strings of exactly MAX_STRING_BYTES survive; one byte more is refused by the encoder', () => {
    const file = 'é'.repeat(MAX_STRING_BYTES / 2)
    assert.deepEqual(decodeMessage(body({ type: 'file-done', file })), { type: 'file-done', file })
    assert.throws(() => encodeMessage({ type: 'file-done', file: file + 'x' }), RangeError)
  })

  it('error messages are cut to 1024 characters', () => {
    const m = decodeMessage(body({ type: 'error', code: 'ERR_X', message: 'y'.repeat(2000) }))
    assert.deepEqual(m, { type: 'error', code: 'ERR_X', message: 'y'.repeat(1024) })
  })

  it('decoded hello nonce, auth mac, meta hashes and have bits do not alias the frame', () => {
    const meta = { name: 'f', size: 1, segmentSize: 1, algo: 'sha256' as const, hashes: Buffer.alloc(32, 1) }
    const msgs: Message[] = [
      { type: 'hello', version: 1, auth: false, role: 'peer', id: 1, nonce: Buffer.alloc(16, 1) },
      { type: 'auth', mac: Buffer.alloc(32, 1) },
      { type: 'register', host: 'h', port: 1, files: [meta], wants: [] },
      { type: 'swarm', file: 'f', meta, members: [] },
      { type: 'have-map', file: 'f', count: 16, bits: Buffer.alloc(2, 1) }
    ]
    for (const m of msgs) {
      const b = Buffer.from(body(m))
      const decoded = decodeMessage(b)
      b.fill(0) // the connection may reuse or drop the frame; decoded fields must keep their bytes
      assert.deepEqual(decoded, m, m.type)
    }
  })

  it('a chunk payload is a zero-copy view of the frame body', () => {
    const b = Buffer.from(body({ type: 'chunk', reqId: 1, index: 2, holdUs: 7, data: Buffer.from('xyz') }))
    const decoded = decodeMessage(b)
    assert.equal(decoded.type, 'chunk')
    if (decoded.type !== 'chunk') return
    assert.equal(decoded.data.buffer, b.buffer)
    assert.equal(decoded.data.byteOffset, b.byteOffset + 13)
    assert.equal(decoded.holdUs, 7)
  })

  it('encoder refuses malformed fixed-size fields', () => {
    assert.throws(() => encodeMessage({ type: 'hello', version: 1, auth: false, role: 'peer', id: 1, nonce: Buffer.alloc(15) }), RangeError)
    assert.throws(() => encodeMessage({ type: 'auth', mac: Buffer.alloc(31) }), RangeError)
    assert.throws(() => encodeMessage({ type: 'have-map', file: 'f', count: 9, bits: Buffer.alloc(1) }), RangeError)
  })

  it('countSegments', () => {
    assert.equal(countSegments(0, 4), 0)
    assert.equal(countSegments(1, 4), 1)
    assert.equal(countSegments(4, 4), 1)
    assert.equal(countSegments(5, 4), 2)
  })
})

describe('FrameDecoder round trip under any chunking', () => {
  const decodeAll = (chunks: Buffer[]): Message[] => {
    const d = new FrameDecoder()
    const out: Message[] = []
    for (const c of chunks) for (const b of d.push(c)) out.push(decodeMessage(b))
    assert.equal(d.bufferedBytes, 0, 'nothing may stay buffered after the last frame')
    return out
  }

  it('any message list survives any split of the concatenated bytes', () => {
    fc.assert(fc.property(fc.array(messageArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, rawCuts) => {
      const all = Buffer.concat(msgs.map(encodeMessageBytes))
      const cuts = [...new Set(rawCuts.map(c => c % (all.length + 1)))].sort((a, b) => a - b)
      const chunks: Buffer[] = []
      let prev = 0
      for (const c of [...cuts, all.length]) { chunks.push(all.subarray(prev, c)); prev = c }
      assert.deepEqual(decodeAll(chunks), msgs)
    }), { seed: 42, numRuns: 500 })
  })

  it('any message list survives 1-byte chunks', () => {
    fc.assert(fc.property(fc.array(messageArb, { maxLength: 6 }), msgs => {
      const all = Buffer.concat(msgs.map(encodeMessageBytes))
      const chunks: Buffer[] = []
      for (let i = 0; i < all.length; i++) chunks.push(all.subarray(i, i + 1))
      assert.deepEqual(decodeAll(chunks), msgs)
    }), { seed: 42, numRuns: 200 })
  })

  it('any message list survives being sent as encodeMessage parts', () => {
    fc.assert(fc.property(fc.array(messageArb, { maxLength: 8 }), msgs => {
      assert.deepEqual(decodeAll(msgs.flatMap(encodeMessage)), msgs)
    }), { seed: 42, numRuns: 300 })
  })
})

describe('rejections', () => {
  it('empty body -> ERR_EMPTY_FRAME', () => rejects(Buffer.alloc(0), 'ERR_EMPTY_FRAME'))

  it('unknown tag -> ERR_UNKNOWN_MESSAGE', () => {
    const known = new Set<number>(Object.values(MessageTag))
    for (let tag = 0; tag < 256; tag++) {
      if (known.has(tag)) continue
      rejects(Buffer.from([tag, 0, 0, 0, 0]), 'ERR_UNKNOWN_MESSAGE')
    }
  })

  it('every proper prefix of a fixed-layout body -> ERR_TRUNCATED', () => {
    for (const g of golden) {
      const b = hex(g.hex).subarray(4)
      for (let n = 1; n < b.length; n++) {
        assert.throws(() => decodeMessage(b.subarray(0, n)), (err: unknown) =>
          err instanceof ProtocolError && err.code === 'ERR_TRUNCATED', `${g.name} cut to ${n} bytes`)
      }
    }
    rejects(hex('21 00000001 000000'), 'ERR_TRUNCATED') // chunk without a whole index
  })

  it('one byte too many -> ERR_TRAILING_BYTES', () => {
    for (const g of golden) {
      const b = Buffer.concat([hex(g.hex).subarray(4), Buffer.from([0])])
      assert.throws(() => decodeMessage(b), (err: unknown) =>
        err instanceof ProtocolError && err.code === 'ERR_TRAILING_BYTES', g.name)
    }
  })

  it('hello with bad magic -> ERR_BAD_HANDSHAKE', () => {
    rejects(hex('01 44465358 01 01 01 00000005' + '00'.repeat(16)), 'ERR_BAD_HANDSHAKE')
    rejects(hex('01 00000000 01 01 01 00000005' + '00'.repeat(16)), 'ERR_BAD_HANDSHAKE')
  })

  it('hello with unknown role or flags -> ERR_BAD_FIELD', () => {
    rejects(hex('01 44465353 01 00 03 00000005' + '00'.repeat(16)), 'ERR_BAD_FIELD')
    rejects(hex('01 44465353 01 02 01 00000005' + '00'.repeat(16)), 'ERR_BAD_FIELD')
  })

  // register from host "h" port 80 with one file, then no wants
  const registerWith = (meta: string): Buffer => hex('10 0001 68 0050 00000001' + meta + '00000000')

  it('a valid hand-built FileMeta is accepted (control for the cases below)', () => {
    const m = decodeMessage(registerWith('0001 66 0000000000000005 00000004 01 00000002' + '11'.repeat(64)))
    assert.deepEqual(m, { type: 'register', host: 'h', port: 80, wants: [], files: [{ name: 'f', size: 5, segmentSize: 4, algo: 'sha256', hashes: Buffer.alloc(64, 0x11) }] })
  })

  it('FileMeta whose segment count does not match its size -> ERR_BAD_FIELD', () => {
    // size 5 in segments of 4 is 2 segments, not 1
    rejects(registerWith('0001 66 0000000000000005 00000004 00 00000001' + '11'.repeat(32)), 'ERR_BAD_FIELD')
    // size 0 has no segments
    rejects(registerWith('0001 66 0000000000000000 00000004 00 00000001' + '11'.repeat(32)), 'ERR_BAD_FIELD')
    // a huge count is refused before trying to read its hashes
    rejects(registerWith('0001 66 0000000000000005 00000004 00 ffffffff'), 'ERR_BAD_FIELD')
  })

  it('FileMeta with segment size 0 or above 16 MiB, or an unknown algorithm -> ERR_BAD_FIELD', () => {
    rejects(registerWith('0001 66 0000000000000000 00000000 00 00000000'), 'ERR_BAD_FIELD')
    rejects(registerWith('0001 66 0000000000000000 01000001 00 00000000'), 'ERR_BAD_FIELD')
    rejects(registerWith('0001 66 0000000000000000 00000001 02 00000000'), 'ERR_BAD_FIELD')
  })

  it('u64 above Number.MAX_SAFE_INTEGER -> ERR_BAD_FIELD', () => {
    rejects(hex('15 00000001 0001 61 0020000000000000 00000001 00000002 00000003'), 'ERR_BAD_FIELD')
    // 2^53 - 1 itself is fine
    const m = decodeMessage(hex('15 00000001 0001 61 001fffffffffffff 00000001 00000002 00000003'))
    assert.equal(m.type === 'catalog' && m.entries[0]?.size, Number.MAX_SAFE_INTEGER)
  })

  it('invalid UTF-8 string -> ERR_BAD_FIELD', () => {
    rejects(hex('16 0001 ff'), 'ERR_BAD_FIELD') // never valid in UTF-8
    rejects(hex('16 0002 c328'), 'ERR_BAD_FIELD') // bad continuation byte
    rejects(hex('16 0002 e282'), 'ERR_BAD_FIELD') // 3-byte sequence cut short
    rejects(hex('16 0003 eda080'), 'ERR_BAD_FIELD') // UTF-16 surrogate encoded in UTF-8
    rejects(hex('16 0002 c0af'), 'ERR_BAD_FIELD') // overlong '/'
  })

  it('invalid UTF-8 whose replacement has the same byte length -> ERR_BAD_FIELD', () => {
    rejects(hex('16 0003 f09f98'), 'ERR_BAD_FIELD')
    rejects(hex('16 0004 f09f9841'), 'ERR_BAD_FIELD')
  })

  it('string longer than MAX_STRING_BYTES -> ERR_BAD_FIELD', () => {
    const n = MAX_STRING_BYTES + 1
    rejects(Buffer.concat([hex('16'), Buffer.from([n >> 8, n & 0xff]), Buffer.alloc(n, 0x61)]), 'ERR_BAD_FIELD')
  })

  it('list counts larger than the frame -> ERR_BAD_FIELD', () => {
    rejects(hex('10 0001 68 0050 ffffffff'), 'ERR_BAD_FIELD') // register files
    rejects(hex('10 0001 68 0050 00000000 ffffffff'), 'ERR_BAD_FIELD') // register wants
    rejects(hex('13 0001 66 00 ffffffff'), 'ERR_BAD_FIELD') // swarm members
    rejects(hex('15 ffffffff'), 'ERR_BAD_FIELD') // catalog entries
    rejects(hex('17 ffffffff'), 'ERR_BAD_FIELD') // client-fin transfers
    rejects(hex('26 0001 66 ffffffff'), 'ERR_BAD_FIELD') // haves indexes
    rejects(hex('26 0001 66 00000002 00000001'), 'ERR_TRUNCATED') // haves: one index short
  })

  it('have-map whose count needs more bits than sent -> ERR_TRUNCATED', () => {
    rejects(hex('24 0001 66 ffffffff ff'), 'ERR_TRUNCATED')
  })

  it('flag bytes other than 0 and 1 -> ERR_BAD_FIELD', () => {
    rejects(hex('12 02 0001 66'), 'ERR_BAD_FIELD') // req-swarm withMeta
    rejects(hex('13 0001 66 02 00000000'), 'ERR_BAD_FIELD') // swarm meta flag
    rejects(hex('13 0001 66 00 00000001 00000002 0001 68 0050 00000003 02'), 'ERR_BAD_FIELD') // member seed flag
  })
})
