import { createHmac, randomBytes, timingSafeEqual } from '../util/crypto.ts'
import { ProtocolError } from './errors.ts'
import { NONCE_BYTES, PROTOCOL_VERSION, type Message, type Role } from './messages.ts'

/** Largest frame accepted before the handshake completes: a HELLO or AUTH is far smaller. */
export const HANDSHAKE_MAX_FRAME_BYTES = 1024

/** What one side says about itself in its HELLO. */
export interface HelloInit { role: Role, id: number, secret: string | null }

/**
 * Builds our HELLO: with a secret, a fresh random nonce for the challenge-response; without one the
 * nonce is never read, so it is zeros (and node:crypto is not loaded at all).
 */
export function createHello (init: HelloInit): Extract<Message, { type: 'hello' }> {
  const nonce = init.secret !== null ? randomBytes(NONCE_BYTES) : Buffer.alloc(NONCE_BYTES)
  return { type: 'hello', version: PROTOCOL_VERSION, auth: init.secret !== null, role: init.role, id: init.id, nonce }
}

/**
 * Checks the remote HELLO against ours. Both sides must agree on whether a secret is in use;
 * the message says which side lacks it so the user can fix the right command line.
 */
export function checkHello (ours: Extract<Message, { type: 'hello' }>, theirs: Message): Extract<Message, { type: 'hello' }> {
  if (theirs.type !== 'hello') throw new ProtocolError('ERR_BAD_HANDSHAKE', `expected HELLO, got ${theirs.type}`)
  if (theirs.version !== PROTOCOL_VERSION) {
    throw new ProtocolError('ERR_BAD_HANDSHAKE', `protocol version ${theirs.version} is not supported (this is version ${PROTOCOL_VERSION})`)
  }
  if (theirs.auth !== ours.auth) {
    throw new ProtocolError('ERR_AUTH', ours.auth
      ? 'the remote side has no secret but this swarm requires one (--secret / DFSS_SECRET)'
      : 'the remote side requires a secret (--secret / DFSS_SECRET) and none was given')
  }
  return theirs
}

/**
 * Challenge-response MAC: HMAC-SHA256(secret, "DFSS-AUTH" | role | "dialer"/"acceptor" | remote nonce | own nonce).
 * Each side proves it knows the secret over the other's fresh nonce; the secret never crosses the wire.
 * The direction is bound in so that a side's own AUTH reflected back over a second connection never verifies.
 */
export function computeMac (secret: string, role: Role, initiator: boolean, challengeNonce: Buffer, ownNonce: Buffer): Buffer {
  return createHmac('sha256', secret).update('DFSS-AUTH').update(role).update(initiator ? 'dialer' : 'acceptor').update(challengeNonce).update(ownNonce).digest()
}

/** Verifies the remote AUTH (`weInitiated`: we dialed); throws ERR_AUTH when the secret differs. */
export function checkAuth (secret: string, ours: Extract<Message, { type: 'hello' }>, theirs: Extract<Message, { type: 'hello' }>, msg: Message, weInitiated: boolean): void {
  if (msg.type !== 'auth') throw new ProtocolError('ERR_BAD_HANDSHAKE', `expected AUTH, got ${msg.type}`)
  const expected = computeMac(secret, theirs.role, !weInitiated, ours.nonce, theirs.nonce)
  if (!timingSafeEqual(expected, msg.mac)) throw new ProtocolError('ERR_AUTH', 'wrong secret: the remote side could not prove it knows the swarm secret')
}
