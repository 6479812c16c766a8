import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import { describe, it } from 'node:test'
import { createBars, formatBytes, ProgressReporter } from '../../src/cli/progress.ts'
import type { Downloader } from '../../src/peer/downloader.ts'

/** What ProgressReporter uses of a Downloader: its events and the count of sources. */
function fakeDownloader (): Downloader & EventEmitter {
  return Object.assign(new EventEmitter(), { activeSources: () => 3 }) as unknown as Downloader & EventEmitter
}

/** A file of 4 segments of 1 MiB: start, every segment, done. */
function download (d: EventEmitter): void {
  d.emit('file-start', 'a.bin', 4, 0, 4 * 1048576)
  for (let i = 0; i < 4; i++) d.emit('segment', { file: 'a.bin', index: i, from: 7, bytes: 1048576, have: i + 1, total: 4 })
  d.emit('file-done', 'a.bin', '/out/a.bin')
}

describe('download progress', () => {
  it('formats byte counts', () => {
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1536), '1.5 KiB')
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB')
  })

  it('json: one event per line for the start, every segment and the end', () => {
    const lines: string[] = []
    const d = fakeDownloader()
    new ProgressReporter(d, 'json', s => { lines.push(s) }).stop()
    download(d)
    const events = lines.map(l => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(events.map(e => e['event']), ['start', 'segment', 'segment', 'segment', 'segment', 'done'])
    assert.deepEqual({ ...events[0], t: 0 }, { t: 0, event: 'start', file: 'a.bin', size: 4 * 1048576, segments: 4, resumed: 0 })
    assert.deepEqual({ ...events[4], t: 0 }, { t: 0, event: 'segment', file: 'a.bin', index: 3, from: 7, bytes: 1048576, have: 4, total: 4 })
    assert.equal(events[5]?.['path'], '/out/a.bin')
  })

  it('plain: a line at the start, at every tenth and at the end', () => {
    const lines: string[] = []
    const d = fakeDownloader()
    new ProgressReporter(d, 'plain', s => { lines.push(s) }, { label: 'peer 2: ' })
    download(d)
    assert.equal(lines[0], 'peer 2: a.bin: 4.0 MiB, 4 segments\n')
    assert.deepEqual(lines.slice(1, -1).map(l => /: ([0-9]+)% \(([0-9]+)\/4 segments/.exec(l)?.slice(1).join(' ')), ['20 1', '50 2', '70 3'])
    assert.match(lines.at(-1) ?? '', /^peer 2: a\.bin: done in [0-9.]+ s -> \/out\/a\.bin\n$/)
  })

  it('tty: bars drawn by cli-progress, loaded on first use', () => {
    const out = new PassThrough()
    let drawn = ''
    out.on('data', (b: Buffer) => { drawn += b.toString() })
    const bars = createBars(out)
    const d = fakeDownloader()
    new ProgressReporter(d, 'tty', () => { assert.fail('bars, not lines') }, { shared: bars })
    download(d)
    bars.stop()
    assert.match(drawn, /a\.bin +\|[█░]+\| 100% 4\.0 MiB\/4\.0 MiB .* 3 src/)
  })
})
