/** Stable codes for everything a remote side can get wrong. Callers match on `code`, never on text. */
export const PROTOCOL_ERROR_CODES = [
  'ERR_FRAME_TOO_LARGE',
  'ERR_BUFFER_LIMIT',
  'ERR_EMPTY_FRAME',
  'ERR_UNKNOWN_MESSAGE',
  'ERR_TRUNCATED',
  'ERR_TRAILING_BYTES',
  'ERR_BAD_FIELD',
  'ERR_BAD_HANDSHAKE',
  'ERR_AUTH',
  'ERR_UNEXPECTED_MESSAGE',
  'ERR_LIMIT',
  'ERR_TIMEOUT'
] as const

export type ProtocolErrorCode = typeof PROTOCOL_ERROR_CODES[number]

/** The code an ERROR frame carries, when it is one of ours (the frame's text is the remote's word only). */
export function knownErrorCode (code: string): ProtocolErrorCode | null {
  return (PROTOCOL_ERROR_CODES as readonly string[]).includes(code) ? code as ProtocolErrorCode : null
}

/** Raised by decoders and connection logic when the remote side sends something invalid. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  readonly code: ProtocolErrorCode
  constructor (code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}
