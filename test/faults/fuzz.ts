// A seeded fuzzing client for live DFSS processes (tracker or peer): many raw TCP connections, each
// sending one kind of hostile input, at most `concurrency` at a time. Every connection ends in a
// bounded time; those that must be closed by the server (oversized prefixes, half handshakes left
// open) are never closed by us, so a server that does not close them is reported, not hidden.
import net from 'node:net'
import { encodeMessageBytes, PROTOCOL_VERSION, type FileMeta, type Message, type Role } from '../../src/protocol/messages.ts'

/** mulberry32: a small seeded PRNG so every run sends the same bytes. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rng = () => number
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1))
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
function bytes (r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256)
  return b
}

/** What one connection does. `server-closes` kinds wait for the server to close them. */
export const KINDS = {
  /** random bytes, then we half-close */
  'random-bytes': { serverCloses: false },
  /** a length prefix of 0..1024 then a random body: a frame that decodes to garbage */
  'random-frame': { serverCloses: true },
  /** a valid HELLO with a few bytes flipped, then we half-close */
  'mutated-hello': { serverCloses: false },
  /** a valid HELLO, then random bytes */
  'hello-then-garbage': { serverCloses: false },
  /** a length prefix far above any limit before the handshake */
  'oversize-before': { serverCloses: true },
  /** a valid HELLO, then a length prefix above the frame limit */
  'oversize-after': { serverCloses: true },
  /** a valid HELLO, then well-formed but hostile messages, then we half-close */
  'hostile-messages': { serverCloses: false },
  /** a valid HELLO, then mutated valid messages, then we half-close */
  'mutated-messages': { serverCloses: false },
  /** part of a HELLO, then nothing: only the handshake timeout can end it */
  'half-handshake': { serverCloses: true },
  /** connect and say nothing */
  'silent': { serverCloses: true }
} as const
export type Kind = keyof typeof KINDS

export interface FuzzTarget {
  name: string
  host: string
  port: number
  /** Bound on how long the server may take to close a connection it must close. */
  closeWithinMs: number
  /** Mix of kinds, as weights. */
  mix: Partial<Record<Kind, number>>
  /** File names worth mentioning in hostile messages (e.g. the one being downloaded). */
  names: string[]
}

export interface FuzzReport {
  connections: number
  byKind: Map<string, number>
  /** Connections the server closed by itself where it had to (never by us). */
  closedByServer: number
  /** Connections of a `serverCloses` kind still open after `closeWithinMs` (a bug). */
  notClosed: string[]
  /** Connections refused or reset at once (e.g. past --max-connections). */
  refused: number
  /** Longest time a server took to close a half handshake, ms. */
  slowestClose: number
}

function hello (r: Rng, role: Role = pick(r, ['peer', 'client', 'tracker'] as const)): Buffer {
  return encodeMessageBytes({ type: 'hello', version: PROTOCOL_VERSION, auth: false, role, id: int(r, 0, 2 ** 32 - 1), nonce: bytes(r, 16) })
}

function meta (r: Rng, name: string): FileMeta {
  const segmentSize = int(r, 1, 1 << 20)
  const size = int(r, 0, 4) * segmentSize
  return { name, size, segmentSize, algo: 'sha256', hashes: bytes(r, (size / segmentSize) * 32) }
}

function nameOf (r: Rng, names: string[]): string {
  return pick(r, [...names, 'x', '../etc/passwd', '/abs', 'a\\b', 'ok/name.bin', 'é'.repeat(int(r, 1, 40))])
}

/** Messages a hostile but well-formed client might send; hosts are loopback only. */
function hostileMessage (r: Rng, names: string[]): Message {
  const name = nameOf(r, names)
  const all: Array<() => Message> = [
    () => ({ type: 'register', host: '127.0.0.1', port: int(r, 1, 65535), files: Array.from({ length: int(r, 0, 3) }, (_, i) => meta(r, `${name}${i}`)), wants: [name] }),
    () => ({ type: 'register', host: '', port: 0, files: [], wants: [] }),
    () => ({ type: 'req-catalog', pattern: pick(r, ['', '**', '*', '{a,b', '[', name]) }),
    () => ({ type: 'req-swarm', file: name, withMeta: r() < 0.5 }),
    () => ({ type: 'req-chunk', reqId: int(r, 0, 2 ** 32 - 1), index: pick(r, [0, 1, 2 ** 32 - 1, int(r, 0, 1000)]), file: name }),
    () => ({ type: 'req-have', file: name }),
    () => ({ type: 'have', index: int(r, 0, 2 ** 32 - 1), file: name }),
    () => ({ type: 'file-done', file: name }),
    () => ({ type: 'client-fin', transfers: [{ from: int(r, 0, 9), file: name, segments: int(r, 0, 2 ** 32 - 1) }] }),
    () => ({ type: 'upld-info', seq: int(r, 0, 2 ** 32 - 1), uploads: int(r, 0, 2 ** 32 - 1) }),
    () => ({ type: 'chunk', reqId: int(r, 0, 9), index: int(r, 0, 9), holdUs: int(r, 0, 2 ** 32 - 1), data: bytes(r, int(r, 0, 64)) }),
    () => ({ type: 'error', code: 'ERR_X', message: 'hostile' }),
    () => ({ type: 'close' }),
    () => ({ type: 'ack', peerId: int(r, 0, 9) }),
    () => ({ type: 'hello', version: PROTOCOL_VERSION, auth: false, role: 'peer', id: 1, nonce: bytes(r, 16) })
  ]
  return pick(r, all)()
}

function mutate (r: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b)
  const ops = int(r, 1, 4)
  for (let k = 0; k < ops && out.length > 0; k++) {
    const at = int(r, 0, out.length - 1)
    switch (int(r, 0, 3)) {
      case 0: out[at] = (out[at] as number) ^ (1 << int(r, 0, 7)); break
      case 1: out[at] = int(r, 0, 255); break
      case 2: if (at + 4 <= out.length) out.writeUInt32BE(pick(r, [0, 1, 0xffff, 0x7fffffff, 0xffffffff, int(r, 0, 4096)]), at); break
      default: return out.subarray(0, at) // truncated
    }
  }
  return out
}

/** Bytes to send for a kind (all of them are computed up front from the PRNG). */
function script (r: Rng, kind: Kind, names: string[]): Buffer {
  switch (kind) {
    case 'random-bytes': return bytes(r, int(r, 1, 4096))
    case 'random-frame': {
      const n = int(r, 1, 1024)
      const head = Buffer.alloc(4)
      head.writeUInt32BE(n)
      return Buffer.concat([head, bytes(r, n)])
    }
    case 'mutated-hello': return mutate(r, hello(r))
    case 'hello-then-garbage': return Buffer.concat([hello(r), bytes(r, int(r, 1, 2048))])
    case 'oversize-before': {
      const head = Buffer.alloc(4 + int(r, 0, 16))
      head.writeUInt32BE(pick(r, [1025, 0x10000, 0x7fffffff, 0xffffffff, int(r, 1025, 2 ** 32 - 1)]))
      return head
    }
    case 'oversize-after': {
      const head = Buffer.alloc(4)
      head.writeUInt32BE(pick(r, [16 * 1024 * 1024 + 64 * 1024 + 1, 0x7fffffff, 0xffffffff, int(r, 17 * 1024 * 1024, 2 ** 32 - 1)]))
      return Buffer.concat([hello(r, 'peer'), head])
    }
    case 'hostile-messages': return Buffer.concat([hello(r, pick(r, ['peer', 'client'] as const)), ...Array.from({ length: int(r, 1, 6) }, () => encodeMessageBytes(hostileMessage(r, names)))])
    case 'mutated-messages': return Buffer.concat([hello(r, pick(r, ['peer', 'client'] as const)), ...Array.from({ length: int(r, 1, 4) }, () => mutate(r, encodeMessageBytes(hostileMessage(r, names))))])
    case 'half-handshake': return hello(r).subarray(0, int(r, 1, 29))
    case 'silent': return Buffer.alloc(0)
  }
}

/** One connection: connect, send, then half-close or wait for the server; resolves with what happened. */
async function one (target: FuzzTarget, kind: Kind, data: Buffer): Promise<'server-closed' | 'closed-after-our-end' | 'refused' | 'not-closed'> {
  const serverCloses = KINDS[kind].serverCloses
  return await new Promise(resolve => {
    const sock = net.connect({ host: target.host, port: target.port })
    let connected = false
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish = (how: 'server-closed' | 'closed-after-our-end' | 'refused' | 'not-closed'): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(how)
    }
    sock.on('error', () => {})
    sock.on('data', () => {}) // read and drop what the server says
    sock.once('connect', () => {
      connected = true
      if (data.length > 0) sock.write(data)
      if (!serverCloses) sock.end()
      timer = setTimeout(() => finish('not-closed'), target.closeWithinMs)
    })
    sock.once('close', () => finish(!connected ? 'refused' : serverCloses ? 'server-closed' : 'closed-after-our-end'))
  })
}

/** Runs `total` connections against the targets (round robin), at most `concurrency` at a time. */
export async function fuzz (targets: FuzzTarget[], o: { total: number, concurrency: number, seed: number, onConnection?: () => void }): Promise<Map<string, FuzzReport>> {
  const r = prng(o.seed)
  const reports = new Map<string, FuzzReport>(targets.map(t => [t.name, { connections: 0, byKind: new Map(), closedByServer: 0, notClosed: [], refused: 0, slowestClose: 0 }]))
  const plan: Array<{ target: FuzzTarget, kind: Kind, data: Buffer }> = []
  for (let i = 0; i < o.total; i++) {
    const target = targets[i % targets.length] as FuzzTarget
    const weights = Object.entries(target.mix) as Array<[Kind, number]>
    let x = r() * weights.reduce((a, [, w]) => a + w, 0)
    let kind = (weights[0] as [Kind, number])[0]
    for (const [k, w] of weights) { if ((x -= w) < 0) { kind = k; break } }
    plan.push({ target, kind, data: script(r, kind, target.names) })
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const { target, kind, data } = plan[next++] as { target: FuzzTarget, kind: Kind, data: Buffer }
      const rep = reports.get(target.name) as FuzzReport
      rep.connections++
      rep.byKind.set(kind, (rep.byKind.get(kind) ?? 0) + 1)
      o.onConnection?.()
      const t0 = performance.now()
      const how = await one(target, kind, data)
      if (how === 'server-closed') {
        rep.closedByServer++
        if (kind === 'half-handshake' || kind === 'silent') rep.slowestClose = Math.max(rep.slowestClose, performance.now() - t0)
      } else if (how === 'not-closed') rep.notClosed.push(`${kind} (${data.toString('hex').slice(0, 64)})`)
      else if (how === 'refused') rep.refused++
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  return reports
}

/** Opens `n` half handshakes to a server and resolves with how long each took to be closed by it (Infinity: not within `withinMs`). */
export async function halfHandshakes (host: string, port: number, n: number, withinMs: number, seed: number): Promise<number[]> {
  const r = prng(seed)
  const target: FuzzTarget = { name: 'half', host, port, closeWithinMs: withinMs, mix: {}, names: [] }
  return await Promise.all(Array.from({ length: n }, async (_, i) => {
    const t0 = performance.now()
    const how = await one(target, i % 2 === 0 ? 'half-handshake' : 'silent', i % 2 === 0 ? hello(r).subarray(0, int(r, 1, 29)) : Buffer.alloc(0))
    return how === 'server-closed' ? performance.now() - t0 : Infinity
  }))
}
