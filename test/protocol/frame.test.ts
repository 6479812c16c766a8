import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, type FrameDecoderInit } from '../../src/protocol/frame.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'
import type { ProtocolErrorCode } from '../../src/protocol/errors.ts'

/** Frame with a u32 BE prefix, in a fresh non-pooled allocation (so ArrayBuffer identity means something). */
function frame (bodyBytes: Buffer): Buffer {
  const out = Buffer.alloc(4 + bodyBytes.length)
  out.writeUInt32BE(bodyBytes.length, 0)
  bodyBytes.copy(out, 4)
  return out
}
function prefix (n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n, 0); return b }

const isCode = (code: ProtocolErrorCode) => (err: unknown): boolean => {
  assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`)
  assert.equal(err.code, code, err.message)
  return true
}

describe('FrameDecoder', () => {
  it('yields the body of one whole frame', () => {
    const d = new FrameDecoder()
    assert.deepEqual([...d.push(frame(Buffer.from('hello')))].map(String), ['hello'])
    assert.equal(d.bufferedBytes, 0)
  })

  it('yields several frames from one chunk, in order', () => {
    const d = new FrameDecoder()
    const chunk = Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('bc')), frame(Buffer.from('def'))])
    assert.deepEqual([...d.push(chunk)].map(String), ['a', 'bc', 'def'])
  })

  it('an empty chunk yields nothing and changes nothing', () => {
    const d = new FrameDecoder()
    assert.deepEqual([...d.push(Buffer.alloc(0))], [])
    assert.equal(d.bufferedBytes, 0)
  })

  describe('length prefix split across chunks', () => {
    const f = frame(Buffer.from('payload'))
    for (let at = 1; at < 4; at++) {
      it(`prefix split after ${at} byte(s)`, () => {
        const d = new FrameDecoder()
        assert.deepEqual([...d.push(f.subarray(0, at))], [])
        assert.equal(d.bufferedBytes, at)
        assert.deepEqual([...d.push(f.subarray(at))].map(String), ['payload'])
        assert.equal(d.bufferedBytes, 0)
      })
    }

    it('prefix in four 1-byte chunks, body in two', () => {
      const d = new FrameDecoder()
      for (let i = 0; i < 4; i++) assert.deepEqual([...d.push(f.subarray(i, i + 1))], [])
      assert.deepEqual([...d.push(f.subarray(4, 6))], [])
      assert.deepEqual([...d.push(f.subarray(6))].map(String), ['payload'])
    })

    it('prefix split when a previous frame ended mid-chunk', () => {
      const d = new FrameDecoder()
      const both = Buffer.concat([frame(Buffer.from('x')), f])
      const cut = 5 + 2 // first frame, then 2 bytes of the second prefix
      assert.deepEqual([...d.push(both.subarray(0, cut))].map(String), ['x'])
      assert.deepEqual([...d.push(both.subarray(cut))].map(String), ['payload'])
    })
  })

  describe('oversized length prefix', () => {
    it('fails with ERR_FRAME_TOO_LARGE as soon as the 4 prefix bytes arrive', () => {
      const d = new FrameDecoder({ maxFrameBytes: 100 })
      assert.throws(() => [...d.push(prefix(101))], isCode('ERR_FRAME_TOO_LARGE'))
    })

    it('does not wait for the body when the prefix trickles in byte by byte', () => {
      const d = new FrameDecoder({ maxFrameBytes: 100 })
      const p = prefix(0xffffffff)
      for (let i = 0; i < 3; i++) assert.deepEqual([...d.push(p.subarray(i, i + 1))], [])
      assert.throws(() => [...d.push(p.subarray(3))], isCode('ERR_FRAME_TOO_LARGE'))
    })

    it('default limit: DEFAULT_MAX_FRAME_BYTES is accepted (waits), one more is refused', () => {
      const ok = new FrameDecoder()
      assert.deepEqual([...ok.push(prefix(DEFAULT_MAX_FRAME_BYTES))], [])
      assert.equal(ok.bufferedBytes, 4)
      const bad = new FrameDecoder()
      assert.throws(() => [...bad.push(prefix(DEFAULT_MAX_FRAME_BYTES + 1))], isCode('ERR_FRAME_TOO_LARGE'))
    })

    it('a frame of exactly maxFrameBytes is delivered', () => {
      const d = new FrameDecoder({ maxFrameBytes: 8 })
      assert.deepEqual([...d.push(frame(Buffer.from('12345678')))].map(String), ['12345678'])
    })

    it('an oversized frame behind a good one: the good one is yielded first', () => {
      const d = new FrameDecoder({ maxFrameBytes: 8 })
      const got: string[] = []
      assert.throws(() => { for (const b of d.push(Buffer.concat([frame(Buffer.from('ok')), prefix(9)]))) got.push(String(b)) }, isCode('ERR_FRAME_TOO_LARGE'))
      assert.deepEqual(got, ['ok'])
    })

    it('maxFrameBytes can be raised after construction (as after the handshake)', () => {
      const d = new FrameDecoder({ maxFrameBytes: 2 })
      d.maxFrameBytes = 10
      assert.deepEqual([...d.push(frame(Buffer.from('abcdef')))].map(String), ['abcdef'])
    })
  })

  describe('zero-length frame', () => {
    it('-> ERR_EMPTY_FRAME', () => {
      const d = new FrameDecoder()
      assert.throws(() => [...d.push(prefix(0))], isCode('ERR_EMPTY_FRAME'))
    })

    it('-> ERR_EMPTY_FRAME when its prefix is split and follows a good frame', () => {
      const d = new FrameDecoder()
      const got: string[] = []
      for (const b of d.push(Buffer.concat([frame(Buffer.from('a')), Buffer.alloc(2)]))) got.push(String(b))
      assert.deepEqual(got, ['a'])
      assert.throws(() => [...d.push(Buffer.alloc(2))], isCode('ERR_EMPTY_FRAME'))
    })
  })

  describe('zero-copy', () => {
    it('a frame that arrives within one chunk yields a Buffer sharing that chunk\'s memory', () => {
      const chunk = frame(Buffer.from('segment data'))
      const [b] = [...new FrameDecoder().push(chunk)]
      assert.ok(b !== undefined)
      assert.equal(b.buffer, chunk.buffer)
      assert.equal(b.byteOffset, chunk.byteOffset + 4)
      assert.equal(b.length, 12)
      chunk[4] = 0x53 // 'S': a write through the chunk is visible in the body
      assert.equal(String(b), 'Segment data')
    })

    it('every frame of a multi-frame chunk shares the chunk\'s memory', () => {
      const chunk = Buffer.alloc(0 + 2 * 4 + 3 + 5)
      frame(Buffer.from('abc')).copy(chunk, 0)
      frame(Buffer.from('defgh')).copy(chunk, 7)
      const bodies = [...new FrameDecoder().push(chunk)]
      assert.deepEqual(bodies.map(String), ['abc', 'defgh'])
      assert.deepEqual(bodies.map(b => [b.buffer === chunk.buffer, b.byteOffset - chunk.byteOffset]), [[true, 4], [true, 11]])
    })

    it('a body that arrives whole after its split prefix is handed on without a copy', () => {
      const f = frame(Buffer.from('body'))
      const bodyChunk = Buffer.alloc(4)
      f.copy(bodyChunk, 0, 4)
      const d = new FrameDecoder()
      assert.deepEqual([...d.push(f.subarray(0, 2))], [])
      assert.deepEqual([...d.push(f.subarray(2, 4))], [])
      const [b] = [...d.push(bodyChunk)]
      assert.equal(b, bodyChunk)
    })

    it('a body spanning chunks is copied into one contiguous Buffer', () => {
      const f = frame(Buffer.from('spanning'))
      const a = Buffer.alloc(7)
      const c = Buffer.alloc(f.length - 7)
      f.copy(a, 0, 0, 7)
      f.copy(c, 0, 7)
      const d = new FrameDecoder()
      assert.deepEqual([...d.push(a)], [])
      const [b] = [...d.push(c)]
      assert.ok(b !== undefined)
      assert.equal(String(b), 'spanning')
      assert.notEqual(b.buffer, a.buffer)
      assert.notEqual(b.buffer, c.buffer)
    })
  })

  it('bufferedBytes counts what waits for the rest of a frame', () => {
    const d = new FrameDecoder()
    const f = frame(Buffer.alloc(10, 1))
    assert.deepEqual([...d.push(f.subarray(0, 9))], [])
    assert.equal(d.bufferedBytes, 9)
    assert.equal([...d.push(Buffer.concat([f.subarray(9), f.subarray(0, 1)]))].length, 1)
    assert.equal(d.bufferedBytes, 1)
  })
})

/**
 * Feeds `bodies`, framed, to a copy-mode decoder the way a socket with a 128-byte
 * reused buffer would, each read at most the next cut long. Where `offer` gives a target (the decoder's
 * readTarget), the read goes into it instead of the shared buffer. Returns the bodies yielded, how many
 * reads went into an offered target, and whether any body or target was a view of the shared buffer.
 */
function readThrough (bodies: Uint8Array[], cuts: number[], offer: (dec: FrameDecoder) => Buffer | null = () => null, init: FrameDecoderInit = {}): { got: Buffer[], digests: Array<string | null>, direct: number, sharedView: boolean, dec: FrameDecoder } {
  const wire = Buffer.concat(bodies.map(b => frame(Buffer.from(b))))
  const dec = new FrameDecoder({ ...init, copy: true })
  const digests: Array<string | null> = []
  const shared = Buffer.alloc(128)
  const got: Buffer[] = []
  let direct = 0
  let sharedView = false
  let off = 0
  let k = 0
  while (off < wire.length) {
    const target = offer(dec)
    if (target !== null) { direct++; if (target.buffer === shared.buffer) sharedView = true }
    const into = target ?? shared
    // What a socket read does: fill the buffer with at most its length of what arrived.
    const n = Math.min(cuts[k++ % cuts.length] as number, wire.length - off, into.length)
    wire.copy(into, 0, off, off + n)
    for (const body of dec.push(into.subarray(0, n))) {
      if (body.buffer === shared.buffer) sharedView = true
      got.push(body)
      digests.push(dec.frameDigest?.toString('hex') ?? null)
    }
    shared.fill(0xee) // the caller reuses its buffer
    off += n
  }
  return { got, digests, direct, sharedView, dec }
}

const sameBodies = (got: Buffer[], bodies: Uint8Array[]): boolean => got.length === bodies.length && got.every((b, i) => b.equals(Buffer.from(bodies[i] as Uint8Array)))

describe('FrameDecoder copy mode (reads into a reused buffer)', () => {
  it('yields the same bodies as zero-copy mode under any chunking, never views of the pushed chunk', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
      (bodies, cuts) => {
        const { got, sharedView, dec } = readThrough(bodies, cuts)
        return !sharedView && sameBodies(got, bodies) && dec.bufferedBytes === 0
      }
    ), { seed: 7, numRuns: 300 })
  })

  it('with reads straight into readTarget() when offered, yields the same bodies, each read in place exactly once', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 64 }),
      fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
      (bodies, cuts, minBytes, maxBytes) => {
        let wrongSize = false
        const { got, direct, sharedView, dec } = readThrough(bodies, cuts, d => {
          const target = d.readTarget(minBytes, maxBytes)
          if (target !== null && (target.length < Math.min(minBytes, maxBytes ?? Infinity) || target.length > (maxBytes ?? Infinity))) wrongSize = true
          return target
        })
        const long = bodies.some(b => b.length - 97 >= minBytes)
        return !wrongSize && !sharedView && sameBodies(got, bodies) && dec.bufferedBytes === 0 && (!long || direct > 0)
      }
    ), { seed: 11, numRuns: 300 })
  })

  it('offers no read target in zero-copy mode, between frames, or for the last few bytes of a body', () => {
    assert.equal(new FrameDecoder().readTarget(1), null)
    const dec = new FrameDecoder({ copy: true })
    assert.equal(dec.readTarget(1), null)
    assert.deepEqual([...dec.push(Buffer.concat([prefix(10), Buffer.from('abc')]))], [])
    const target = dec.readTarget(7)
    assert.ok(target !== null)
    assert.equal(target.length, 7)
    assert.equal(dec.readTarget(8), null)
    assert.equal(dec.readTarget(7, 3)?.length, 3, 'at most maxBytes of it')
    target.write('defgh', 0)
    assert.deepEqual([...dec.push(target.subarray(0, 5))], [])
    const rest = dec.readTarget(2)
    assert.ok(rest !== null)
    rest.write('ij', 0)
    const [body] = [...dec.push(rest.subarray(0, 2))]
    assert.equal(body?.toString(), 'abcdefghij')
    assert.equal(body?.buffer, target.buffer, 'the body is the buffer the reads went into')
    assert.equal(dec.readTarget(1), null)
  })

  it('stamps each frame with the time its first byte was pushed, kept while its body is handed on', () => {
    const dec = new FrameDecoder({ copy: true })
    assert.ok(Number.isNaN(dec.frameStartMs))
    const two = Buffer.concat([frame(Buffer.from('first')), frame(Buffer.from('second'))])
    const before = performance.now()
    assert.deepEqual([...dec.push(two.subarray(0, 6))], [])
    const firstStart = dec.frameStartMs
    assert.ok(firstStart >= before && firstStart <= performance.now(), String(firstStart))
    // The rest of the first frame and the start of the second arrive together: while the first body
    // is handed on, the stamp is still the first frame's; then the second's, from this later push.
    const stamps: Array<[string, number]> = []
    const later = performance.now()
    for (const body of dec.push(two.subarray(6, 15))) stamps.push([body.toString(), dec.frameStartMs])
    assert.deepEqual(stamps, [['first', firstStart]])
    assert.ok(dec.frameStartMs >= later, 'the second frame started in the later push')
    const secondStart = dec.frameStartMs
    for (const body of dec.push(two.subarray(15))) stamps.push([body.toString(), dec.frameStartMs])
    assert.deepEqual(stamps, [['first', firstStart], ['second', secondStart]])
  })

  it('digests, as they arrive, the bodies with the tag and enough bytes past `from`, under any chunking and read targets', () => {
    const spec = { tag: 0x21, from: 5, minBytes: 8 }
    let digested = 0
    fc.assert(fc.property(
      // Bodies on both sides of the minimum (fast-check's arrays are short unless asked otherwise).
      fc.array(fc.tuple(fc.constantFrom(0x21, 0x20, 0x00), fc.oneof(fc.uint8Array({ maxLength: 13 }), fc.uint8Array({ minLength: 14, maxLength: 300 }))), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
      fc.boolean(),
      (tagged, cuts, direct) => {
        const bodies = tagged.map(([tag, rest]) => Buffer.concat([Buffer.from([tag]), rest]))
        const { got, digests } = readThrough(bodies, cuts, direct ? d => d.readTarget(16) : () => null, { digest: spec })
        const expected = bodies.map(b => b[0] === spec.tag && b.length - spec.from >= spec.minBytes ? createHash('sha256').update(b.subarray(spec.from)).digest('hex') : null)
        digested += digests.filter(d => d !== null).length
        return sameBodies(got, bodies) && JSON.stringify(digests) === JSON.stringify(expected)
      }
    ), { seed: 13, numRuns: 300 })
    assert.ok(digested > 100, `only ${digested} bodies digested`)
  })

  it('digests nothing without the option, nor in zero-copy mode', () => {
    const body = Buffer.concat([Buffer.from([0x21]), Buffer.alloc(64, 7)])
    const plain = new FrameDecoder({ copy: true })
    assert.equal([...plain.push(frame(body))].length, 1)
    assert.equal(plain.frameDigest, null)
    const zeroCopy = new FrameDecoder({ digest: { tag: 0x21, from: 1, minBytes: 1 } })
    assert.equal([...zeroCopy.push(frame(body))].length, 1)
    assert.equal(zeroCopy.frameDigest, null)
  })

  it('checks the declared length before allocating', () => {
    const dec = new FrameDecoder({ copy: true, maxFrameBytes: 10 })
    assert.throws(() => [...dec.push(Buffer.from([0, 0, 0, 11]))], (e: unknown) => (e as { code?: string }).code === 'ERR_FRAME_TOO_LARGE')
  })
})
