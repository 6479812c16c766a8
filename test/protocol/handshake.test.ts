import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { checkAuth, checkHello, computeMac, createHello } from '../../src/protocol/handshake.ts'
import { NONCE_BYTES, PROTOCOL_VERSION } from '../../src/protocol/messages.ts'
import type { Message, Role } from '../../src/protocol/messages.ts'
import { ProtocolError } from '../../src/protocol/errors.ts'
import type { ProtocolErrorCode } from '../../src/protocol/errors.ts'

type Hello = Extract<Message, { type: 'hello' }>

const isCode = (code: ProtocolErrorCode, text?: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`)
  assert.equal(err.code, code, err.message)
  if (text !== undefined) assert.match(err.message, text)
  return true
}

function hello (role: Role, id: number, auth: boolean, fill: number): Hello {
  return { type: 'hello', version: PROTOCOL_VERSION, auth, role, id, nonce: Buffer.alloc(NONCE_BYTES, fill) }
}

/** What one side sends as AUTH after reading the other's HELLO (as connection.ts does). */
const authFrom = (secret: string, own: Hello, remote: Hello, ownInitiator = true): Message =>
  ({ type: 'auth', mac: computeMac(secret, own.role, ownInitiator, remote.nonce, own.nonce) })

describe('createHello', () => {
  it('carries role, id, version, the auth flag and a 16-byte nonce', () => {
    const a = createHello({ role: 'peer', id: 3, secret: 's' })
    const b = createHello({ role: 'tracker', id: 0, secret: null })
    assert.deepEqual({ ...a, nonce: null }, { type: 'hello', version: PROTOCOL_VERSION, auth: true, role: 'peer', id: 3, nonce: null })
    assert.deepEqual({ ...b, nonce: null }, { type: 'hello', version: PROTOCOL_VERSION, auth: false, role: 'tracker', id: 0, nonce: null })
    assert.equal(a.nonce.length, NONCE_BYTES)
    assert.equal(b.nonce.length, NONCE_BYTES)
  })

  it('draws a fresh random nonce for every HELLO with a secret, and sends zeros without one (never read)', () => {
    const a = createHello({ role: 'peer', id: 1, secret: 's' })
    const b = createHello({ role: 'peer', id: 1, secret: 's' })
    assert.notDeepEqual(a.nonce, b.nonce)
    assert.notDeepEqual(a.nonce, Buffer.alloc(NONCE_BYTES))
    assert.deepEqual(createHello({ role: 'peer', id: 1, secret: null }).nonce, Buffer.alloc(NONCE_BYTES))
  })
})

describe('checkHello', () => {
  it('accepts a matching hello and returns it', () => {
    const theirs = hello('tracker', 0, true, 2)
    assert.equal(checkHello(hello('peer', 1, true, 1), theirs), theirs)
    const plain = hello('tracker', 0, false, 2)
    assert.equal(checkHello(hello('peer', 1, false, 1), plain), plain)
  })

  it('wrong version -> ERR_BAD_HANDSHAKE', () => {
    for (const version of [0, PROTOCOL_VERSION + 1, 255]) {
      assert.throws(() => checkHello(hello('peer', 1, false, 1), { ...hello('peer', 2, false, 2), version }), isCode('ERR_BAD_HANDSHAKE', /version/))
    }
  })

  it('a message other than HELLO -> ERR_BAD_HANDSHAKE', () => {
    assert.throws(() => checkHello(hello('peer', 1, false, 1), { type: 'close' }), isCode('ERR_BAD_HANDSHAKE', /expected HELLO/))
  })

  it('we have a secret, they do not -> ERR_AUTH saying the remote side lacks it', () => {
    assert.throws(() => checkHello(hello('peer', 1, true, 1), hello('tracker', 0, false, 2)),
      isCode('ERR_AUTH', /remote side has no secret/))
  })

  it('they have a secret, we do not -> ERR_AUTH saying this side lacks it', () => {
    assert.throws(() => checkHello(hello('peer', 1, false, 1), hello('tracker', 0, true, 2)),
      isCode('ERR_AUTH', /remote side requires a secret.*none was given/))
  })
})

describe('checkAuth', () => {
  const peer = hello('peer', 4, true, 0x11)
  const tracker = hello('tracker', 0, true, 0x22)

  it('matching secrets verify in both directions', () => {
    assert.doesNotThrow(() => checkAuth('s3cret', tracker, peer, authFrom('s3cret', peer, tracker), false))
    assert.doesNotThrow(() => checkAuth('s3cret', peer, tracker, authFrom('s3cret', tracker, peer), false))
  })

  it('with fresh nonces from createHello', () => {
    const a = createHello({ role: 'client', id: 9, secret: 'x' })
    const b = createHello({ role: 'peer', id: 2, secret: 'x' })
    checkAuth('x', b, checkHello(b, a), authFrom('x', a, b), false)
    checkAuth('x', a, checkHello(a, b), authFrom('x', b, a), false)
  })

  it('wrong secret -> ERR_AUTH', () => {
    assert.throws(() => checkAuth('s3cret', tracker, peer, authFrom('S3cret', peer, tracker), false), isCode('ERR_AUTH', /wrong secret/))
    assert.throws(() => checkAuth('s3cret', tracker, peer, authFrom('', peer, tracker), false), isCode('ERR_AUTH'))
  })

  it('an all-zero MAC -> ERR_AUTH', () => {
    assert.throws(() => checkAuth('s', tracker, peer, { type: 'auth', mac: Buffer.alloc(32) }, false), isCode('ERR_AUTH'))
  })

  it('a message other than AUTH -> ERR_BAD_HANDSHAKE', () => {
    assert.throws(() => checkAuth('s', tracker, peer, { type: 'close' }, false), isCode('ERR_BAD_HANDSHAKE', /expected AUTH/))
  })

  it('a MAC computed for another role is refused', () => {
    const lying = { type: 'auth' as const, mac: computeMac('s', 'client', true, tracker.nonce, peer.nonce) }
    assert.throws(() => checkAuth('s', tracker, peer, lying, false), isCode('ERR_AUTH'))
  })

  it('a replayed MAC from an earlier session (other nonce of ours) is refused', () => {
    const earlier = hello('tracker', 0, true, 0x33)
    assert.throws(() => checkAuth('s', tracker, peer, authFrom('s', peer, earlier), false), isCode('ERR_AUTH'))
  })

  it('reflection: our own AUTH from a second connection does not verify', () => {
    // Victim V is a peer. An attacker without the secret opens connections A and B to V.
    const vOnA = hello('peer', 1, true, 0xa1)
    const vOnB = hello('peer', 1, true, 0xb1)
    // On B the attacker echoes V's nonce from A; V answers on B with its AUTH over that nonce.
    const attackerOnB = { ...hello('peer', 66, true, 0), nonce: vOnA.nonce }
    const vAuthOnB = authFrom('s', vOnB, attackerOnB, false)
    // On A the attacker claims V's nonce from B and replays V's own AUTH.
    const attackerOnA = { ...hello('peer', 66, true, 0), nonce: vOnB.nonce }
    assert.throws(() => checkAuth('s', vOnA, checkHello(vOnA, attackerOnA), vAuthOnB, false), isCode('ERR_AUTH'))
  })
})

describe('computeMac', () => {
  const n1 = Buffer.alloc(NONCE_BYTES, 1)
  const n2 = Buffer.alloc(NONCE_BYTES, 2)

  it('is HMAC-SHA256(secret, "DFSS-AUTH" | role | direction | challenge nonce | own nonce)', () => {
    const expected = createHmac('sha256', 'k').update(Buffer.concat([Buffer.from('DFSS-AUTHpeerdialer'), n1, n2])).digest()
    assert.deepEqual(computeMac('k', 'peer', true, n1, n2), expected)
    assert.equal(expected.length, 32)
  })

  it('depends on the challenge nonce, the own nonce, their order, the role and the secret', () => {
    const base = computeMac('k', 'peer', true, n1, n2).toString('hex')
    const variants = [
      computeMac('k', 'peer', true, Buffer.alloc(NONCE_BYTES, 3), n2),
      computeMac('k', 'peer', true, n1, Buffer.alloc(NONCE_BYTES, 3)),
      computeMac('k', 'peer', true, n2, n1),
      computeMac('k', 'tracker', true, n1, n2),
      computeMac('k', 'client', true, n1, n2),
      computeMac('K', 'peer', true, n1, n2),
      computeMac('k', 'peer', false, n1, n2)
    ].map(b => b.toString('hex'))
    for (const v of variants) assert.notEqual(v, base)
    assert.equal(new Set(variants).size, variants.length)
  })

  it('is deterministic', () => {
    assert.deepEqual(computeMac('k', 'client', true, n1, n2), computeMac('k', 'client', true, n1, n2))
  })
})
