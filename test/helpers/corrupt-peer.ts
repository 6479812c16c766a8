// A test double run as its own process: shares one file like `dfss share`, but every segment it
// serves has its bytes flipped. Usage (after tsc):
//   node dist/test/helpers/corrupt-peer.js FILE --name NAME --tracker HOST:PORT [--segment-size N]
// Prints `corrupt peer sharing NAME as peer ID` once registered, `corrupted segment I` per segment
// served, and serves until SIGTERM/SIGINT.
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parseHostPort, untilSignal } from '../../src/cli/real.ts'
import { PeerNode } from '../../src/peer/peer.ts'
import { hashFile } from '../../src/storage/hasher.ts'
import { RealStore } from '../../src/storage/real-store.ts'
import type { HeldFile } from '../../src/storage/store.ts'
import { verifySegment } from '../../src/storage/verify.ts'

/** Flips every byte of a segment (same length, so only the hash check can tell). */
export function corrupt (data: Buffer): Buffer {
  const out = Buffer.from(data)
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) ^ 0xff
  return out
}

/** A RealStore whose served segments are all corrupted. */
export class CorruptStore extends RealStore {
  private readonly onServe: (name: string, index: number) => void
  constructor (outDir: string, onServe: (name: string, index: number) => void) {
    super(outDir)
    this.onServe = onServe
  }

  override held (name: string): HeldFile | undefined {
    const f = super.held(name)
    if (f === undefined) return undefined
    const onServe = this.onServe
    return {
      meta: f.meta,
      whole: f.whole,
      has: i => f.has(i),
      haveBits: () => f.haveBits(),
      read: async i => {
        const data = await f.read(i)
        onServe(name, i)
        return corrupt(data)
      }
    }
  }
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tracker: { type: 'string' },
      name: { type: 'string' },
      'segment-size': { type: 'string', default: String(1024 * 1024) }
    }
  })
  const file = positionals[0]
  if (file === undefined || values.tracker === undefined) throw new Error('usage: corrupt-peer FILE --tracker HOST:PORT [--name NAME] [--segment-size N]')
  const name = values.name ?? path.basename(file)
  const store = new CorruptStore(process.cwd(), (n, i) => { process.stdout.write(`corrupted segment ${i} of ${n}\n`) })
  await store.addShared(file, await hashFile(file, name, Number(values['segment-size'])))
  const node = new PeerNode({ store, rank: 0, tracker: parseHostPort(values.tracker), listenHost: '127.0.0.1', listenPort: 0, download: { verify: verifySegment } })
  node.on('warning', (e: Error) => { process.stderr.write(`corrupt peer: ${e.message}\n`) })
  const stop = untilSignal()
  await node.start([])
  process.stdout.write(`corrupt peer sharing ${name} as peer ${node.id}\n`)
  await stop
  await node.stop()
  process.stdout.write(`stopped; uploaded ${node.uploader.uploads} segments\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`corrupt peer: ${(e as Error).stack ?? String(e)}\n`)
  process.exitCode = 1
})
