import { Reader, Writer } from './bytes.ts'
import { ProtocolError } from './errors.ts'
import { FRAME_HEADER_BYTES } from './frame.ts'

/**
 * Protocol version carried in HELLO; a peer speaking another version is refused. 2: HAVES (0x26).
 * 3: CHUNK carries how long its request waited at the uploader (for the getter's pipeline depth).
 */
export const PROTOCOL_VERSION = 3
/** First bytes of every HELLO: anything else is not DFSS. */
export const MAGIC = Buffer.from('DFSS', 'ascii')
/** Bytes of every segment hash, in both modes (classic: the 32 hex characters; real: SHA-256). */
export const HASH_BYTES = 32
/** Bytes of the handshake nonce. */
export const NONCE_BYTES = 16
/** Largest segment size anyone may declare (16 MiB). */
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024

/** Message type tags. Every frame body starts with one of these. */
export const MessageTag = {
  Hello: 0x01,
  Auth: 0x02,
  Error: 0x03,
  Register: 0x10,
  Ack: 0x11,
  ReqSwarm: 0x12,
  Swarm: 0x13,
  ReqCatalog: 0x14,
  Catalog: 0x15,
  FileDone: 0x16,
  ClientFin: 0x17,
  Close: 0x18,
  ReqUpldInfo: 0x19,
  UpldInfo: 0x1a,
  ReqChunk: 0x20,
  Chunk: 0x21,
  NoChunk: 0x22,
  ReqHave: 0x23,
  HaveMap: 0x24,
  Have: 0x25,
  Haves: 0x26
} as const

/** Who opened a connection. */
export type Role = 'tracker' | 'peer' | 'client'
const ROLES: readonly Role[] = ['tracker', 'peer', 'client']

/** How a segment is checked: classic (content equals the hash text) or SHA-256 of the bytes. */
export type HashAlgo = 'classic' | 'sha256'
const HASH_ALGOS: readonly HashAlgo[] = ['classic', 'sha256']

/** Everything needed to download and verify one file. */
export interface FileMeta {
  name: string
  size: number
  segmentSize: number
  algo: HashAlgo
  /** `segments * HASH_BYTES` bytes, segment hashes in order. */
  hashes: Buffer
}

/** One swarm member as the tracker reports it. */
export interface Member { id: number, host: string, port: number, uploads: number, seed: boolean }
/** One catalog line. */
export interface CatalogEntry { name: string, size: number, segments: number, seeds: number, peers: number }
/** Segments one peer received from one source for one file. */
export interface Transfer { from: number, file: string, segments: number }

/** Where a CHUNK's data starts in its frame body: after the tag (u8), request id, index and hold time (u32 each). */
export const CHUNK_DATA_OFFSET = 13

/** Largest hold time a CHUNK can carry (µs, u32: about 71 minutes); longer ones are sent as this. */
export const MAX_HOLD_US = 0xffff_ffff

export type Message =
  | { type: 'hello', version: number, auth: boolean, role: Role, id: number, nonce: Buffer }
  | { type: 'auth', mac: Buffer }
  | { type: 'error', code: string, message: string }
  | { type: 'register', host: string, port: number, files: FileMeta[], wants: string[] }
  | { type: 'ack', peerId: number }
  | { type: 'req-swarm', file: string, withMeta: boolean }
  | { type: 'swarm', file: string, meta: FileMeta | null, members: Member[] }
  | { type: 'req-catalog', pattern: string }
  | { type: 'catalog', entries: CatalogEntry[] }
  | { type: 'file-done', file: string }
  | { type: 'client-fin', transfers: Transfer[] }
  | { type: 'close' }
  | { type: 'req-upld-info', seq: number }
  | { type: 'upld-info', seq: number, uploads: number }
  | { type: 'req-chunk', reqId: number, index: number, file: string }
  /** `holdUs`: microseconds from the request's arrival at the uploader until its data was handed to the socket. */
  | { type: 'chunk', reqId: number, index: number, holdUs: number, data: Buffer }
  | { type: 'no-chunk', reqId: number }
  | { type: 'req-have', file: string }
  | { type: 'have-map', file: string, count: number, bits: Buffer }
  | { type: 'have', index: number, file: string }
  /** Several HAVEs of one file at once (the segments stored during one turn of the event loop). */
  | { type: 'haves', file: string, indexes: number[] }

export type MessageType = Message['type']

/** Number of segments of a file of `size` bytes cut into `segmentSize` pieces. */
export function countSegments (size: number, segmentSize: number): number {
  return size === 0 ? 0 : Math.ceil(size / segmentSize)
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8 (s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s
  let out = ''
  let bytes = 0
  for (const ch of s) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > max) break
    out += ch
    bytes += n
  }
  return out
}

function assertNever (x: never): never { throw new TypeError(`unknown message ${JSON.stringify(x)}`) }

function writeMeta (w: Writer, m: FileMeta): void {
  w.string(m.name).u64(m.size).u32(m.segmentSize).u8(HASH_ALGOS.indexOf(m.algo))
  w.u32(m.hashes.length / HASH_BYTES).bytes(m.hashes)
}

function readMeta (r: Reader): FileMeta {
  const name = r.string('file name')
  const size = r.u64('file size')
  const segmentSize = r.u32('segment size')
  const algo = HASH_ALGOS[r.u8('hash algorithm')]
  if (algo === undefined) throw new ProtocolError('ERR_BAD_FIELD', 'unknown hash algorithm')
  if (segmentSize < 1 || segmentSize > MAX_SEGMENT_BYTES) throw new ProtocolError('ERR_BAD_FIELD', `bad segment size ${segmentSize}`)
  const count = r.u32('segment count')
  if (count !== countSegments(size, segmentSize)) throw new ProtocolError('ERR_BAD_FIELD', `segment count ${count} does not match size ${size}`)
  const hashes = r.bytes(count * HASH_BYTES, 'segment hashes')
  return { name, size, segmentSize, algo, hashes }
}

/** Encodes one message as frame parts (length prefix included); a segment's payload is its own part, not copied. */
export function encodeMessage (msg: Message): Buffer[] {
  const w = new Writer()
  w.u32(0) // length, patched below
  let payload: Buffer | null = null
  switch (msg.type) {
    case 'hello':
      if (msg.nonce.length !== NONCE_BYTES) throw new RangeError('nonce must be 16 bytes')
      w.u8(MessageTag.Hello).bytes(MAGIC).u8(msg.version).u8(msg.auth ? 1 : 0).u8(ROLES.indexOf(msg.role)).u32(msg.id).bytes(msg.nonce)
      break
    case 'auth':
      if (msg.mac.length !== 32) throw new RangeError('mac must be 32 bytes')
      w.u8(MessageTag.Auth).bytes(msg.mac)
      break
    case 'error':
      w.u8(MessageTag.Error).string(msg.code).string(truncateUtf8(msg.message, 1024))
      break
    case 'register':
      w.u8(MessageTag.Register).string(msg.host).u16(msg.port).u32(msg.files.length)
      for (const f of msg.files) writeMeta(w, f)
      w.u32(msg.wants.length)
      for (const s of msg.wants) w.string(s)
      break
    case 'ack':
      w.u8(MessageTag.Ack).u32(msg.peerId)
      break
    case 'req-swarm':
      w.u8(MessageTag.ReqSwarm).u8(msg.withMeta ? 1 : 0).string(msg.file)
      break
    case 'swarm':
      w.u8(MessageTag.Swarm).string(msg.file).u8(msg.meta === null ? 0 : 1)
      if (msg.meta !== null) writeMeta(w, msg.meta)
      w.u32(msg.members.length)
      for (const m of msg.members) w.u32(m.id).string(m.host).u16(m.port).u32(m.uploads).u8(m.seed ? 1 : 0)
      break
    case 'req-catalog':
      w.u8(MessageTag.ReqCatalog).string(msg.pattern)
      break
    case 'catalog':
      w.u8(MessageTag.Catalog).u32(msg.entries.length)
      for (const e of msg.entries) w.string(e.name).u64(e.size).u32(e.segments).u32(e.seeds).u32(e.peers)
      break
    case 'file-done':
      w.u8(MessageTag.FileDone).string(msg.file)
      break
    case 'client-fin':
      w.u8(MessageTag.ClientFin).u32(msg.transfers.length)
      for (const t of msg.transfers) w.u32(t.from).string(t.file).u32(t.segments)
      break
    case 'close':
      w.u8(MessageTag.Close)
      break
    case 'req-upld-info':
      w.u8(MessageTag.ReqUpldInfo).u32(msg.seq)
      break
    case 'upld-info':
      w.u8(MessageTag.UpldInfo).u32(msg.seq).u32(msg.uploads)
      break
    case 'req-chunk':
      w.u8(MessageTag.ReqChunk).u32(msg.reqId).u32(msg.index).string(msg.file)
      break
    case 'chunk':
      w.u8(MessageTag.Chunk).u32(msg.reqId).u32(msg.index).u32(msg.holdUs)
      payload = msg.data
      break
    case 'no-chunk':
      w.u8(MessageTag.NoChunk).u32(msg.reqId)
      break
    case 'req-have':
      w.u8(MessageTag.ReqHave).string(msg.file)
      break
    case 'have-map':
      if (msg.bits.length !== Math.ceil(msg.count / 8)) throw new RangeError('have-map bits do not match count')
      w.u8(MessageTag.HaveMap).string(msg.file).u32(msg.count).bytes(msg.bits)
      break
    case 'have':
      w.u8(MessageTag.Have).u32(msg.index).string(msg.file)
      break
    case 'haves':
      w.u8(MessageTag.Haves).string(msg.file).u32(msg.indexes.length)
      for (const i of msg.indexes) w.u32(i)
      break
    default:
      return assertNever(msg)
  }
  const head = w.finish()
  const bodyLength = head.length - FRAME_HEADER_BYTES + (payload?.length ?? 0)
  head.writeUInt32BE(bodyLength, 0)
  return payload === null || payload.length === 0 ? [head] : [head, payload]
}

/** Encodes one message into a single buffer (tests, small messages). */
export function encodeMessageBytes (msg: Message): Buffer {
  const parts = encodeMessage(msg)
  return parts.length === 1 ? parts[0] as Buffer : Buffer.concat(parts)
}

/** Decodes one frame body. Throws ProtocolError and nothing else. */
export function decodeMessage (body: Buffer): Message {
  if (body.length === 0) throw new ProtocolError('ERR_EMPTY_FRAME', 'empty frame')
  const r = new Reader(body, 1)
  const tag = body[0]
  let msg: Message
  switch (tag) {
    case MessageTag.Hello: {
      const magic = r.bytes(MAGIC.length, 'magic')
      if (!magic.equals(MAGIC)) throw new ProtocolError('ERR_BAD_HANDSHAKE', 'not a DFSS handshake')
      const version = r.u8('version')
      const flags = r.u8('flags')
      const role = ROLES[r.u8('role')]
      if (role === undefined) throw new ProtocolError('ERR_BAD_FIELD', 'unknown role')
      if (flags > 1) throw new ProtocolError('ERR_BAD_FIELD', 'unknown handshake flags')
      msg = { type: 'hello', version, auth: flags === 1, role, id: r.u32('id'), nonce: Buffer.from(r.bytes(NONCE_BYTES, 'nonce')) }
      break
    }
    case MessageTag.Auth: msg = { type: 'auth', mac: Buffer.from(r.bytes(32, 'mac')) }; break
    case MessageTag.Error: msg = { type: 'error', code: r.string('error code'), message: r.string('error message') }; break
    case MessageTag.Register: {
      const host = r.string('host')
      const port = r.u16('port')
      const nfiles = r.u32('file count')
      if (nfiles > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'file count larger than the frame')
      const files: FileMeta[] = []
      for (let i = 0; i < nfiles; i++) {
        const m = readMeta(r)
        files.push({ ...m, hashes: Buffer.from(m.hashes) })
      }
      const nwants = r.u32('want count')
      if (nwants > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'want count larger than the frame')
      const wants: string[] = []
      for (let i = 0; i < nwants; i++) wants.push(r.string('wanted name'))
      msg = { type: 'register', host, port, files, wants }
      break
    }
    case MessageTag.Ack: msg = { type: 'ack', peerId: r.u32('peer id') }; break
    case MessageTag.ReqSwarm: {
      const flags = r.u8('flags')
      if (flags > 1) throw new ProtocolError('ERR_BAD_FIELD', 'unknown swarm flags')
      msg = { type: 'req-swarm', withMeta: flags === 1, file: r.string('file name') }
      break
    }
    case MessageTag.Swarm: {
      const file = r.string('file name')
      const hasMeta = r.u8('meta flag')
      if (hasMeta > 1) throw new ProtocolError('ERR_BAD_FIELD', 'bad meta flag')
      let meta: FileMeta | null = null
      if (hasMeta === 1) { const m = readMeta(r); meta = { ...m, hashes: Buffer.from(m.hashes) } }
      const n = r.u32('member count')
      if (n > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'member count larger than the frame')
      const members: Member[] = []
      for (let i = 0; i < n; i++) {
        const id = r.u32('member id')
        const host = r.string('member host')
        const port = r.u16('member port')
        const uploads = r.u32('member uploads')
        const seed = r.u8('member seed flag')
        if (seed > 1) throw new ProtocolError('ERR_BAD_FIELD', 'bad seed flag')
        members.push({ id, host, port, uploads, seed: seed === 1 })
      }
      msg = { type: 'swarm', file, meta, members }
      break
    }
    case MessageTag.ReqCatalog: msg = { type: 'req-catalog', pattern: r.string('pattern') }; break
    case MessageTag.Catalog: {
      const n = r.u32('entry count')
      if (n > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'entry count larger than the frame')
      const entries: CatalogEntry[] = []
      for (let i = 0; i < n; i++) {
        entries.push({ name: r.string('name'), size: r.u64('size'), segments: r.u32('segments'), seeds: r.u32('seeds'), peers: r.u32('peers') })
      }
      msg = { type: 'catalog', entries }
      break
    }
    case MessageTag.FileDone: msg = { type: 'file-done', file: r.string('file name') }; break
    case MessageTag.ClientFin: {
      const n = r.u32('transfer count')
      if (n > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'transfer count larger than the frame')
      const transfers: Transfer[] = []
      for (let i = 0; i < n; i++) transfers.push({ from: r.u32('source'), file: r.string('file name'), segments: r.u32('segments') })
      msg = { type: 'client-fin', transfers }
      break
    }
    case MessageTag.Close: msg = { type: 'close' }; break
    case MessageTag.ReqUpldInfo: msg = { type: 'req-upld-info', seq: r.u32('seq') }; break
    case MessageTag.UpldInfo: msg = { type: 'upld-info', seq: r.u32('seq'), uploads: r.u32('uploads') }; break
    case MessageTag.ReqChunk: msg = { type: 'req-chunk', reqId: r.u32('request id'), index: r.u32('index'), file: r.string('file name') }; break
    case MessageTag.Chunk: msg = { type: 'chunk', reqId: r.u32('request id'), index: r.u32('index'), holdUs: r.u32('hold time'), data: r.rest() }; break
    case MessageTag.NoChunk: msg = { type: 'no-chunk', reqId: r.u32('request id') }; break
    case MessageTag.ReqHave: msg = { type: 'req-have', file: r.string('file name') }; break
    case MessageTag.HaveMap: {
      const file = r.string('file name')
      const count = r.u32('segment count')
      const bits = Buffer.from(r.bytes(Math.ceil(count / 8), 'have bits'))
      msg = { type: 'have-map', file, count, bits }
      break
    }
    case MessageTag.Have: msg = { type: 'have', index: r.u32('index'), file: r.string('file name') }; break
    case MessageTag.Haves: {
      const file = r.string('file name')
      const n = r.u32('index count')
      if (n * 4 > body.length) throw new ProtocolError('ERR_BAD_FIELD', 'index count larger than the frame')
      const indexes: number[] = []
      for (let i = 0; i < n; i++) indexes.push(r.u32('index'))
      msg = { type: 'haves', file, indexes }
      break
    }
    default:
      throw new ProtocolError('ERR_UNKNOWN_MESSAGE', `unknown message tag 0x${(tag ?? 0).toString(16)}`)
  }
  r.end(msg.type)
  return msg
}
