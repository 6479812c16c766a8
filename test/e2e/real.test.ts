import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { cp, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { Connection } from '../../src/net/connection.ts'
import type { FileMeta, Message } from '../../src/protocol/messages.ts'
import { openDirect } from '../../src/storage/direct-io.ts'
import { safeJoin } from '../../src/storage/real-store.ts'
import { BIN, ROOT, refusingAddress, runDfss } from '../helpers/cli.ts'
import { defer, jsonEvents, listFiles, sha256File, spawnDfss, spawnLong, spawnUntil, startShare, startTracker, tempDir, type LongRunning } from '../helpers/proc.ts'

const SEG = 65536
const BIG = 64 * 1024 * 1024
const CORRUPT_PEER = path.join(ROOT, 'dist', 'test', 'helpers', 'corrupt-peer.js')
const LOOPBACK = ['--host', '127.0.0.1']

/** Writes `size` random bytes in 1 MiB chunks. */
async function writeRandom (file: string, size: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  const fh = await open(file, 'w')
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(1024 * 1024, size - done))
      await fh.write(chunk)
      done += chunk.length
    }
  } finally {
    await fh.close()
  }
}

/** SHA-256 of every file under `dir` by relative name. */
async function digests (dir: string, names?: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const n of names ?? await listFiles(dir)) out.set(n, await sha256File(path.join(dir, n)))
  return out
}

/** Asserts that `out` holds exactly the files of `expected` (no `.part`, nothing else), byte for byte. */
async function assertSameFiles (out: string, expected: Map<string, string>, label: string): Promise<void> {
  assert.deepEqual(await listFiles(out), [...expected.keys()].sort(), `${label}: files in ${out}`)
  for (const [name, sum] of expected) assert.equal(await sha256File(path.join(out, name)), sum, `${label}: ${name} differs`)
}

/** Starts `dfss get` (loopback) into `out`; it runs until done. */
function startGet (t: TestContext, label: string, tracker: string, names: string[], out: string, extra: string[] = ['--json']): LongRunning {
  return spawnDfss(t, label, ['get', ...names, '-t', tracker, '-o', out, ...LOOPBACK, ...extra])
}

/** Waits for a getter to finish and asserts it succeeded. */
async function finished (g: LongRunning, timeoutMs = 40_000): Promise<void> {
  const exit = await g.waitExit(timeoutMs)
  assert.deepEqual(exit, { code: 0, signal: null }, g.report())
}

interface Transfer { from: number, file: string, segments: number }
function summaryOf (g: LongRunning): Transfer[] {
  const s = jsonEvents(g.stdout).filter(e => e.event === 'summary')
  assert.equal(s.length, 1, g.report())
  return (s[0] as unknown as { transfers: Transfer[] }).transfers
}

/** Number of `segment` events of a `get --json` output so far (complete lines only). */
function segmentEvents (stdout: string): number {
  return stdout.split('\n').slice(0, -1).filter(l => l.includes('"event":"segment"')).length
}

describe('real mode end to end (tracker, share, get, ls on 127.0.0.1)', { timeout: 120_000 }, () => {
  let fixtures = ''
  let bigSum = ''

  // One 64 MiB random file reused by the tests that need it; each test still has its own tracker and dirs.
  before(async () => {
    fixtures = await mkdtemp(path.join(os.tmpdir(), 'dfss-real-fixtures-'))
    await writeRandom(path.join(fixtures, 'big.bin'), BIG)
    bigSum = await sha256File(path.join(fixtures, 'big.bin'))
  })
  after(async () => {
    if (fixtures !== '') await rm(fixtures, { recursive: true, force: true })
  })

  it('edge sizes and a 64 MiB file reach two concurrent getters byte for byte', { timeout: 60_000 }, async t => {
    const src = await tempDir(t, 'sizes-src')
    const sizes: Record<string, number> = { 'zero.bin': 0, 'one.bin': 1, 'seg-minus-1.bin': SEG - 1, 'seg.bin': SEG, 'seg-plus-1.bin': SEG + 1 }
    for (const [name, size] of Object.entries(sizes)) await writeFile(path.join(src, name), randomBytes(size))
    await cp(path.join(fixtures, 'big.bin'), path.join(src, 'big.bin'))
    const expected = await digests(src)
    assert.equal(expected.get('big.bin'), bigSum)

    const { addr } = await startTracker(t)
    const seed = await startShare(t, 'seed', addr, [src], ['--segment-size', String(SEG)])
    assert.match(seed.proc.stdout, /hashed zero\.bin: 0 B, 0 segments/)
    assert.match(seed.proc.stdout, /hashed seg-plus-1\.bin: .*, 2 segments/)
    assert.match(seed.proc.stdout, /hashed big\.bin: 64\.0 MiB, 1024 segments/)

    const outs = [await tempDir(t, 'sizes-a'), await tempDir(t, 'sizes-b')]
    // getter 1 writes through the page cache; both must end with the same bytes
    const getters = outs.map((o, i) => startGet(t, `getter ${i}`, addr, [...expected.keys()], o, i === 0 ? ['--json'] : ['--json', '--no-direct-io']))
    for (const g of getters) await finished(g)
    const probe = await openDirect(path.join(outs[0] as string, 'big.bin'))
    await probe?.close()
    const directBytes = getters.map(g => (jsonEvents(g.stdout).find(e => e.event === 'summary') as { directBytes?: number } | undefined)?.directBytes)
    // whole 64 KiB segments (big.bin, seg.bin, the first of seg-plus-1.bin) go past the page cache where the file system takes O_DIRECT
    assert.deepEqual(directBytes, [probe !== null ? 1026 * SEG : 0, 0])
    for (const [i, o] of outs.entries()) {
      await assertSameFiles(o, expected, `getter ${i}`)
      const ev = jsonEvents(getters[i]!.stdout)
      assert.deepEqual(ev.filter(e => e.event === 'done').map(e => e['file']).sort(), [...expected.keys()].sort())
      const starts = new Map(ev.filter(e => e.event === 'start').map(e => [e['file'], e]))
      assert.equal(starts.get('zero.bin')?.['segments'], 0)
      assert.equal(starts.get('seg-minus-1.bin')?.['segments'], 1)
      assert.equal(starts.get('seg.bin')?.['segments'], 1)
      assert.equal(starts.get('seg-plus-1.bin')?.['segments'], 2)
      assert.equal(starts.get('big.bin')?.['segments'], 1024)
      // every segment was received exactly once
      const got = new Map<string, number>()
      for (const tr of summaryOf(getters[i]!)) got.set(tr.file, (got.get(tr.file) ?? 0) + tr.segments)
      assert.equal(got.get('big.bin'), 1024)
      assert.equal(got.get('seg-plus-1.bin'), 2)
      assert.equal(got.has('zero.bin'), false)
    }
  })

  it('two seeds and three simultaneous getters: sources are mixed, results identical', { timeout: 60_000 }, async t => {
    const srcA = await tempDir(t, 'multi-a')
    await writeRandom(path.join(srcA, 'data', 'blob.bin'), 16 * 1024 * 1024)
    await writeRandom(path.join(srcA, 'data', 'small.bin'), 3 * SEG + 17)
    await writeFile(path.join(srcA, 'readme.txt'), 'hello swarm\n')
    const srcB = await tempDir(t, 'multi-b')
    await cp(srcA, srcB, { recursive: true })
    const expected = await digests(srcA)

    const { addr } = await startTracker(t)
    const seeds = [
      await startShare(t, 'seed A', addr, [srcA], ['--segment-size', String(SEG)]),
      await startShare(t, 'seed B', addr, [srcB], ['--segment-size', String(SEG)])
    ]
    const seedIds = new Set(seeds.map(s => s.id))
    assert.equal(seedIds.size, 2)
    const ls = await runDfss(['ls', '-t', addr, '--json'], { timeoutMs: 10_000 })
    assert.equal(ls.code, 0, ls.stderr)
    const catalog = JSON.parse(ls.stdout) as Array<{ name: string, seeds: number, segments: number }>
    assert.deepEqual(catalog.map(e => [e.name, e.seeds]), [['data/blob.bin', 2], ['data/small.bin', 2], ['readme.txt', 2]])

    const outs = [await tempDir(t, 'multi-o1'), await tempDir(t, 'multi-o2'), await tempDir(t, 'multi-o3')]
    // The third leaves at once when done (--linger 0): its output has no linger event.
    const getters = outs.map((o, i) => startGet(t, `getter ${i}`, addr, ['**'], o, i === 2 ? ['--json', '--linger', '0'] : ['--json']))
    for (const g of getters) await finished(g)
    assert.deepEqual(getters.map(g => jsonEvents(g.stdout).filter(e => e.event === 'linger').length), [1, 1, 0])
    let mixed = 0
    for (const [i, o] of outs.entries()) {
      await assertSameFiles(o, expected, `getter ${i}`)
      const transfers = summaryOf(getters[i]!)
      for (const e of catalog) {
        const mine = transfers.filter(tr => tr.file === e.name)
        assert.equal(mine.reduce((a, tr) => a + tr.segments, 0), e.segments, `getter ${i}: ${e.name} segments received once each`)
        if (new Set(mine.map(tr => tr.from)).size > 1) mixed++
      }
      // its big file came from more than one seed or peer
    }
    assert.ok(mixed >= 1, `no getter received a file from more than one source: ${getters.map(g => JSON.stringify(summaryOf(g))).join('\n')}`)
  })

  it('a getter that finishes first stays until the other has everything, then both leave', { timeout: 60_000 }, async t => {
    // Everyone uploads at 1 MiB/s, so the seed's 64 segments take 4 s to go out once and the two
    // getters finish close together, each holding segments the other needs until the end.
    const src = await tempDir(t, 'linger-src')
    await writeRandom(path.join(src, 'blob.bin'), 4 * 1024 * 1024)
    const expected = await digests(src)
    const { addr } = await startTracker(t)
    await startShare(t, 'seed', addr, [path.join(src, 'blob.bin')], ['--segment-size', String(SEG), '--upload-limit', '1MiB'])
    const outs = [await tempDir(t, 'linger-a'), await tempDir(t, 'linger-b')]
    const getters = outs.map((o, i) => startGet(t, `getter ${i}`, addr, ['blob.bin'], o, ['--json', '--upload-limit', '1MiB']))
    for (const g of getters) await finished(g)
    for (const [i, o] of outs.entries()) await assertSameFiles(o, expected, `getter ${i}`)
    interface Ev { t: number, reason?: string, uploads?: number }
    const ev = (g: LongRunning, name: string): Ev => {
      const found = jsonEvents(g.stdout).filter(e => e.event === name)
      assert.equal(found.length, 1, `${name}: ${g.report()}`)
      return found[0] as unknown as Ev
    }
    const [first, last] = [...getters].sort((x, y) => ev(x, 'done').t - ev(y, 'done').t) as [LongRunning, LongRunning]
    // The first stayed (serving) until the tracker counted the other as a seed; the last left at once.
    assert.equal(ev(first, 'linger').reason, 'swarm-complete', first.report())
    assert.ok(ev(first, 'linger').t >= ev(last, 'done').t, `the first getter left before the other was done:\n${first.report()}\n${last.report()}`)
    assert.equal(ev(last, 'linger').reason, 'swarm-complete', last.report())
    assert.equal(ev(last, 'linger').uploads, 0, last.report())
  })

  it('globs: get fetches exactly the matching names, an unmatched pattern fails, ls filters', { timeout: 30_000 }, async t => {
    const src = await tempDir(t, 'glob-src')
    const files: Record<string, string> = { 'logs/a.csv': 'a,1\n', 'logs/b.csv': 'b,2\n', 'logs/c.txt': 'c\n', 'other/d.csv': 'd,4\n' }
    for (const [name, body] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, name)), { recursive: true })
      await writeFile(path.join(src, name), body)
    }
    const { addr } = await startTracker(t)
    await startShare(t, 'seed', addr, [src])

    const out = await tempDir(t, 'glob-out')
    const res = await runDfss(['get', 'logs/*.csv', '-t', addr, '-o', out, ...LOOPBACK], { timeoutMs: 20_000 })
    assert.equal(res.code, 0, res.stderr)
    assert.deepEqual(await listFiles(out), ['logs/a.csv', 'logs/b.csv'])
    assert.equal(await sha256File(path.join(out, 'logs/a.csv')), await sha256File(path.join(src, 'logs/a.csv')))
    assert.equal(await sha256File(path.join(out, 'logs/b.csv')), await sha256File(path.join(src, 'logs/b.csv')))

    const none = await tempDir(t, 'glob-none')
    const miss = await runDfss(['get', 'logs/*.parquet', '-t', addr, '-o', none, ...LOOPBACK], { timeoutMs: 20_000 })
    assert.notEqual(miss.code, 0)
    assert.match(miss.stderr, /logs\/\*\.parquet/)
    assert.deepEqual(await listFiles(none), [])
    // one good pattern does not excuse a bad one
    const mixed = await runDfss(['get', 'logs/a.csv', 'nothing-*', '-t', addr, '-o', none, ...LOOPBACK], { timeoutMs: 20_000 })
    assert.notEqual(mixed.code, 0)
    assert.match(mixed.stderr, /"nothing-\*"/)
    // A plain name is asked for directly (no catalog lookup); an unknown one fails all the same.
    const unknown = await runDfss(['get', 'logs/a.csv', 'logs/none.csv', '-t', addr, '-o', none, ...LOOPBACK], { timeoutMs: 20_000 })
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /"logs\/none\.csv" is not in the tracker's catalog/)

    const all = await runDfss(['ls', '-t', addr, '--json'], { timeoutMs: 10_000 })
    assert.equal(all.code, 0, all.stderr)
    assert.deepEqual((JSON.parse(all.stdout) as Array<{ name: string, size: number }>).map(e => [e.name, e.size]),
      Object.entries(files).map(([n, b]) => [n, Buffer.byteLength(b)]).sort())
    const csv = await runDfss(['ls', '-t', addr, '**/*.csv', '--json'], { timeoutMs: 10_000 })
    assert.deepEqual((JSON.parse(csv.stdout) as Array<{ name: string }>).map(e => e.name), ['logs/a.csv', 'logs/b.csv', 'other/d.csv'])
    const table = await runDfss(['ls', '-t', addr, 'logs/*'], { timeoutMs: 10_000 })
    assert.equal(table.code, 0, table.stderr)
    const rows = table.stdout.trim().split('\n')
    assert.match(rows[0] ?? '', /^NAME\s+SIZE\s+SEGMENTS\s+SEEDS\s+PEERS$/)
    assert.deepEqual(rows.slice(1).map(r => r.split(/\s+/)[0]), ['logs/a.csv', 'logs/b.csv', 'logs/c.txt'])
    const empty = await runDfss(['ls', '-t', addr, '*.nope'], { timeoutMs: 10_000 })
    assert.equal(empty.code, 0, empty.stderr)
    assert.match(empty.stdout, /no file matches "\*\.nope"/)
  })

  it('under a tight `ulimit -v`: share hashes on one thread, get writes through the page cache, the file arrives whole', {
    timeout: 60_000,
    skip: process.platform !== 'linux'
  }, async t => {
    const { addr } = await startTracker(t)
    // 1.8 GB of address space: enough for Node, not for a worker thread (~0.6-0.9 GiB) or a WebAssembly memory (~10 GiB reserved).
    const limited = (args: string[]): string[] => ['-c', 'ulimit -v 1800000 && exec "$0" "$@"', process.execPath, BIN, ...args]
    const { proc: seed } = await spawnUntil(t, 'share', '/bin/sh', limited(['share', path.join(fixtures, 'big.bin'), '-t', addr, ...LOOPBACK]), /sharing 1 file as peer [0-9]+ /, { timeoutMs: 30_000 })
    assert.match(seed.stdout, /^hashed big\.bin: 64\.0 MiB, 64 segments/m)
    const out = await tempDir(t, 'ulimit-get')
    const get = spawnLong(t, 'get', '/bin/sh', limited(['get', 'big.bin', '-t', addr, '-o', out, ...LOOPBACK, '--linger', '0']), { env: { NODE_DEBUG: 'dfss:store' } })
    await finished(get)
    assert.match(get.stderr, /direct writes refused for .*big\.bin\.part \(WebAssembly\.Memory\(\): could not allocate memory\): buffered from now on/)
    assert.equal(await sha256File(path.join(out, 'big.bin')), bigSum)
  })

  it('shares and gets more files than a process may have open (`ulimit -n 256`, 600 files)', {
    timeout: 90_000,
    skip: process.platform !== 'linux'
  }, async t => {
    const src = await tempDir(t, 'many-src')
    const count = 600
    await Promise.all(Array.from({ length: count }, async (_, i) => { await writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(i + 1)) }))
    const { addr } = await startTracker(t)
    // Every file used to stay open in share and get (two descriptors a file in get): EMFILE past ~250.
    const limited = (args: string[]): string[] => ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, BIN, ...args]
    await spawnUntil(t, 'share', '/bin/sh', limited(['share', src, '-t', addr, ...LOOPBACK]), /sharing 600 files as peer [0-9]+ /, { timeoutMs: 60_000 })
    const out = await tempDir(t, 'many-get')
    const get = spawnLong(t, 'get', '/bin/sh', limited(['get', 'f*.txt', '-t', addr, '-o', out, ...LOOPBACK, '--linger', '0']))
    await finished(get)
    assert.deepEqual(await listFiles(out), await listFiles(src))
    for (const i of [0, 299, 599]) assert.equal(await readFile(path.join(out, `f${i}.txt`), 'utf8'), `file ${i}\n`.repeat(i + 1))
  })

  it('share exits with an error when the tracker cannot be reached', {
    timeout: 20_000
  }, async t => {
    const tracker = await refusingAddress()
    const src = await tempDir(t, 'noshare')
    await writeFile(path.join(src, 'x.txt'), 'x')
    const share = spawnDfss(t, 'share', ['share', path.join(src, 'x.txt'), '-t', tracker, ...LOOPBACK])
    await share.waitFor(/dfss share: .*ECONNREFUSED/, { stream: 'stderr' })
    const exit = await share.waitExit(5000)
    assert.equal(exit.code, 1, share.report())
  })

  it('share refused by the tracker (same name, other content) exits with the reason and does not retry', {
    timeout: 20_000
  }, async t => {
    const [a, b] = [await tempDir(t, 'conflict-a'), await tempDir(t, 'conflict-b')]
    await writeFile(path.join(a, 'x.txt'), 'one\n')
    await writeFile(path.join(b, 'x.txt'), 'two\n')
    const { addr } = await startTracker(t)
    await startShare(t, 'first', addr, [path.join(a, 'x.txt')])
    const second = spawnDfss(t, 'second', ['share', path.join(b, 'x.txt'), '-t', addr, ...LOOPBACK])
    await second.waitFor(/dfss share: "x\.txt" is already shared with different content/, { stream: 'stderr' })
    const exit = await second.waitExit(5000)
    assert.equal(exit.code, 1, second.report())
    assert.doesNotMatch(second.stderr, /reconnecting/)
  })

  describe('a corrupting peer', () => {
    async function setup (t: TestContext): Promise<{ src: string, file: string, sum: string, addr: string }> {
      const src = await tempDir(t, 'corrupt-src')
      const file = path.join(src, 'payload.bin')
      await writeRandom(file, 4 * 1024 * 1024) // 64 segments
      const { addr } = await startTracker(t)
      return { src, file, sum: await sha256File(file), addr }
    }
    async function startCorrupt (t: TestContext, addr: string, file: string): Promise<{ proc: LongRunning, id: number }> {
      const { proc, match } = await spawnUntil(t, 'corrupt peer', process.execPath, [CORRUPT_PEER, file, '--tracker', addr, '--segment-size', String(SEG)], /corrupt peer sharing payload\.bin as peer ([0-9]+)\n/)
      return { proc, id: Number(match[1]) }
    }
    /** The ids named in the getter's "sent a bad segment" warnings. */
    function blamed (g: LongRunning): Set<number> {
      return new Set([...g.stderr.matchAll(/peer ([0-9]+) sent a bad segment/g)].map(m => Number(m[1])))
    }

    it('next to an honest seed cannot spoil the download', { timeout: 30_000 }, async t => {
      const { file, sum, addr } = await setup(t)
      // The honest seed is throttled (4 MiB/s: about a second for the file) so both sources are surely asked.
      const honest = await startShare(t, 'honest seed', addr, [file], ['--segment-size', String(SEG), '--upload-limit', '4MiB'])
      const bad = await startCorrupt(t, addr, file)
      const out = await tempDir(t, 'corrupt-out')
      const g = startGet(t, 'getter', addr, ['payload.bin'], out)
      await finished(g)
      assert.equal(await sha256File(path.join(out, 'payload.bin')), sum)
      assert.deepEqual(await listFiles(out), ['payload.bin'])
      assert.match(bad.proc.stdout, /corrupted segment [0-9]+ of payload\.bin/, 'the corrupt peer served something')
      assert.deepEqual(blamed(g), new Set([bad.id]), g.report())
      const transfers = summaryOf(g)
      assert.deepEqual(transfers, [{ from: honest.id, file: 'payload.bin', segments: 64 }])
    })

    it('as the only source for a while: the getter waits, then completes from an honest seed', { timeout: 30_000 }, async t => {
      const { file, sum, addr } = await setup(t)
      const bad = await startCorrupt(t, addr, file)
      const out = await tempDir(t, 'corrupt-only-out')
      const g = startGet(t, 'getter', addr, ['payload.bin'], out)
      // after a few bad segments the getter gives up on that source
      await g.waitFor(new RegExp(`peer ${bad.id} sent a bad segment [0-9]+ of "payload\\.bin"; avoiding it`), { stream: 'stderr' })
      assert.equal(g.exit, null, 'the getter keeps waiting for a good source')
      assert.equal(segmentEvents(g.stdout), 0, 'nothing was accepted from the corrupt peer')
      await assert.rejects(stat(path.join(out, 'payload.bin')), { code: 'ENOENT' })
      const honest = await startShare(t, 'honest seed', addr, [file], ['--segment-size', String(SEG)])
      await finished(g)
      assert.equal(await sha256File(path.join(out, 'payload.bin')), sum)
      assert.deepEqual(await listFiles(out), ['payload.bin'])
      assert.deepEqual(blamed(g), new Set([bad.id]))
      assert.deepEqual(summaryOf(g), [{ from: honest.id, file: 'payload.bin', segments: 64 }])
    })
  })

  it('resumes after SIGKILL: only the missing segments are fetched again', { timeout: 60_000 }, async t => {
    const src = await tempDir(t, 'resume-src')
    const file = path.join(src, 'big.bin')
    await cp(path.join(fixtures, 'big.bin'), file)
    const { addr } = await startTracker(t)
    // 8 MiB/s = 128 segments/s: the whole file would take 8 s, so the kill lands mid-download.
    const slow = await startShare(t, 'slow seed', addr, [file], ['--segment-size', String(SEG), '--upload-limit', '8MiB'])
    const out = await tempDir(t, 'resume-out')
    const first = startGet(t, 'first getter', addr, ['big.bin'], out)
    const seen = await first.waitUntil('100 segment events', () => { const n = segmentEvents(first.stdout); return n >= 100 ? n : undefined })
    const killed = await first.stop('SIGKILL')
    assert.equal(killed.signal, 'SIGKILL')
    const before = segmentEvents(first.stdout)
    assert.ok(before >= seen && before < 1024, `${before} segments before the kill`)
    assert.ok((await stat(path.join(out, 'big.bin.part'))).isFile())
    await assert.rejects(stat(path.join(out, 'big.bin')), { code: 'ENOENT' })

    // The rest comes from an unthrottled seed (the slow one leaves first) to keep the test short.
    assert.deepEqual(await slow.proc.stop(), { code: 0, signal: null }, slow.proc.report())
    await startShare(t, 'fast seed', addr, [file], ['--segment-size', String(SEG)])
    const second = startGet(t, 'second getter', addr, ['big.bin'], out)
    await finished(second)
    const ev = jsonEvents(second.stdout)
    const start = ev.find(e => e.event === 'start')
    assert.ok(start !== undefined, second.report())
    const resumed = start['resumed'] as number
    assert.equal(start['segments'], 1024)
    // every segment reported before the kill had been written, so it is found again on disk
    assert.ok(resumed >= before, `resumed ${resumed} < ${before} segments reported before the kill`)
    assert.ok(resumed < 1024)
    assert.equal(ev.filter(e => e.event === 'segment').length, 1024 - resumed)
    const fetched = new Set(ev.filter(e => e.event === 'segment').map(e => e['index']))
    assert.equal(fetched.size, 1024 - resumed, 'no segment fetched twice')
    assert.equal(summaryOf(second).reduce((a, tr) => a + tr.segments, 0), 1024 - resumed)
    assert.equal(await sha256File(path.join(out, 'big.bin')), bigSum)
    assert.deepEqual(await listFiles(out), ['big.bin'])
  })

  describe('names from the network are never trusted as paths', () => {
    const BAD = ['../evil', '/abs', 'a/../../b', 'x\\y', '..', 'a/./b', 'a//b', 'C:/win', 'nul\0byte', '']

    it('safeJoin refuses names that could escape the output directory', () => {
      const dir = path.resolve('/tmp/dfss-out')
      for (const name of BAD) assert.throws(() => safeJoin(dir, name), /refused file name/, JSON.stringify(name))
      assert.equal(safeJoin(dir, 'logs/a.csv'), path.join(dir, 'logs', 'a.csv'))
      assert.equal(safeJoin(dir, '..foo'), path.join(dir, '..foo'))
      assert.equal(safeJoin(dir, 'a/b..c/d'), path.join(dir, 'a', 'b..c', 'd'))
    })

    /** Sends a REGISTER declaring `fine.txt` and `name`; resolves with what came back before the tracker closed. */
    async function registerBadName (t: TestContext, addr: string, name: string): Promise<Message[]> {
      const [host, port] = [addr.split(':')[0] as string, Number(addr.split(':')[1])]
      const meta = (n: string): FileMeta => ({ name: n, size: 1, segmentSize: SEG, algo: 'sha256', hashes: Buffer.alloc(32, 7) })
      const conn = await Connection.connect(host, port, { role: 'peer', id: 0, handshakeTimeoutMs: 5000 })
      defer(t, async () => { await conn.close() })
      const messages: Message[] = []
      conn.on('message', (m: Message) => { messages.push(m) })
      const closed = once(conn, 'close')
      conn.start()
      // a good name beside the bad one must not get in either
      conn.send({ type: 'register', host: '127.0.0.1', port: 9, files: [meta('fine.txt'), meta(name)], wants: [] })
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([closed, new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`the tracker did not close the connection for ${JSON.stringify(name)}; got ${JSON.stringify(messages)}`)), 5000) })])
      } finally {
        clearTimeout(timer)
      }
      return messages
    }

    it('the tracker refuses a registration naming such a file and lists none of it', { timeout: 30_000 }, async t => {
      const { proc: tracker, addr } = await startTracker(t)
      for (const name of BAD) {
        const messages = await registerBadName(t, addr, name)
        assert.equal(messages.some(m => m.type === 'ack'), false, `registered ${JSON.stringify(name)}`)
        // the peer is told why before the close...
        const err = messages.find(m => m.type === 'error')
        assert.ok(err?.type === 'error', `no ERROR before the close for ${JSON.stringify(name)}: ${JSON.stringify(messages)}`)
        assert.equal(err.code, 'ERR_BAD_FIELD')
        assert.ok(err.message.startsWith(`refused file name ${JSON.stringify(name)}`), err.message)
        // ...and the tracker logs it
        const line = `refused file name ${JSON.stringify(name)}`
        await tracker.waitUntil(`the tracker to log: ${line}`, () => (tracker.stderr.includes(line) ? true : undefined), 5000)
      }
      const ls = await runDfss(['ls', '-t', addr, '--json'], { timeoutMs: 10_000 })
      assert.equal(ls.code, 0, ls.stderr)
      assert.deepEqual(JSON.parse(ls.stdout), [])
      assert.equal(tracker.exit, null, 'the tracker is still running')
    })
  })
})
