import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pieceLengthLog2 } from '../../src/bench/aria2-system.ts'
import { parseGetSummary, seedShareOf } from '../../src/bench/dfss-system.ts'
import { fluidLowerBoundSeconds, swarmEfficiency } from '../../src/bench/fluid.ts'
import { lastDoneMs, parseGetterEvents, swarmPhases, type GetterEvent } from '../../src/bench/phases.ts'
import { parseProcStatCpu, parseTimeOutput } from '../../src/bench/proc.ts'
import { renderReport, summarizeSystem } from '../../src/bench/report.ts'
import type { BenchResults, SystemRun } from '../../src/bench/results.ts'
import { median, pairedRatios, ratio, summarize } from '../../src/bench/stats.ts'
import { formatSpread, formatTable } from '../../src/bench/table.ts'

const MiB = 1024 * 1024

describe('aria2 torrents', () => {
  it('have the pieces of the segments dfss share cuts the same file into', () => {
    assert.equal(pieceLengthLog2(64 * 1024 * 1024), 20)
    assert.equal(pieceLengthLog2(256 * 1024 * 1024), 20)
    assert.equal(pieceLengthLog2(1024 * 1024 * 1024), 21)
  })
})

describe('median and spread', () => {
  it('median of odd and even counts, unsorted input', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 2.5)
    assert.equal(median([7]), 7)
    assert.throws(() => median([]), RangeError)
  })

  it('summarize leaves out failed runs and reports min and max', () => {
    assert.deepEqual(summarize([2, null, 1, Number.NaN, 5]), { median: 2, min: 1, max: 5, n: 3 })
    assert.equal(summarize([null, undefined]), null)
    assert.equal(summarize([]), null)
  })

  it('ratios pair runs and skip missing or zero denominators', () => {
    assert.equal(ratio(1, 4), 0.25)
    assert.equal(ratio(1, 0), null)
    assert.equal(ratio(null, 2), null)
    assert.deepEqual(pairedRatios([1, 2, null], [2, 0, 1]), [0.5, null, null])
  })
})

describe('fluid bound (Kumar & Ross)', () => {
  const u = 20 * MiB
  it('is F/u_seed when the peers could carry the rest', () => {
    assert.equal(fluidLowerBoundSeconds({ fileBytes: 256 * MiB, seedUploadBytesPerSec: u, peerUploadBytesPerSec: u, peers: 3 }), 12.8)
    assert.equal(fluidLowerBoundSeconds({ fileBytes: 256 * MiB, seedUploadBytesPerSec: u, peerUploadBytesPerSec: u, peers: 15 }), 12.8)
  })

  it('is N·F/(u_seed + N·u_peer) when total upload capacity binds', () => {
    // 10 peers uploading at a quarter of the seed's rate: 10·F/(u + 2.5u) = F/u · 10/3.5
    const t = fluidLowerBoundSeconds({ fileBytes: 100 * MiB, seedUploadBytesPerSec: u, peerUploadBytesPerSec: u / 4, peers: 10 })
    assert.ok(Math.abs(t - (100 / 20) * (10 / 3.5)) < 1e-9)
    // peers that cannot upload: the seed sends N copies
    assert.equal(fluidLowerBoundSeconds({ fileBytes: 40 * MiB, seedUploadBytesPerSec: u, peerUploadBytesPerSec: 0, peers: 4 }), 8)
  })

  it('rejects nonsense and computes efficiency', () => {
    assert.throws(() => fluidLowerBoundSeconds({ fileBytes: 1, seedUploadBytesPerSec: 0, peerUploadBytesPerSec: 1, peers: 1 }), RangeError)
    assert.throws(() => fluidLowerBoundSeconds({ fileBytes: 1, seedUploadBytesPerSec: 1, peerUploadBytesPerSec: 1, peers: 0 }), RangeError)
    assert.equal(swarmEfficiency(12.8, 16), 0.8)
    assert.equal(swarmEfficiency(12.8, null), null)
  })
})

describe('table formatting', () => {
  it('writes an aligned GitHub Markdown table', () => {
    const t = formatTable(['system', 'wall s'], [['DFSS', '1.00'], ['aria2', '12.50']])
    assert.equal(t, [
      '| system | wall s |',
      '| ------ | -----: |',
      '| DFSS   |   1.00 |',
      '| aria2  |  12.50 |',
      ''
    ].join('\n'))
  })

  it('escapes pipes and checks the row width', () => {
    assert.match(formatTable(['a'], [['x|y']]), /x\\\|y/)
    assert.throws(() => formatTable(['a', 'b'], [['1']]), RangeError)
  })

  it('formats median and spread, percentages and missing values', () => {
    assert.equal(formatSpread({ median: 1.234, min: 1, max: 2, n: 3 }), '1.23 (1.00–2.00)')
    assert.equal(formatSpread({ median: 0.5, min: 0.5, max: 0.5, n: 1 }, 0, '%', 100), '50%')
    assert.equal(formatSpread(null), 'n/a')
  })
})

describe('parsers of measurements', () => {
  it('reads GNU time output, also after a signal line', () => {
    assert.deepEqual(parseTimeOutput('1.50 0.25 12345\n'), { userS: 1.5, sysS: 0.25, maxRssKiB: 12345 })
    assert.deepEqual(parseTimeOutput('Command terminated by signal 15\n0.01 0.00 2048\n'), { userS: 0.01, sysS: 0, maxRssKiB: 2048 })
    assert.equal(parseTimeOutput(''), null)
  })

  it('reads utime+stime from /proc/PID/stat even with spaces in the name', () => {
    const stat = '123 (node (x) y) S 1 123 123 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 1000 1000000 5000'
    assert.equal(parseProcStatCpu(stat), 3)
  })

  it('finds the --json summary and the seed share', () => {
    const out = [
      '{"t":1,"event":"segment","file":"f","index":0,"from":1,"bytes":1,"have":1,"total":4}',
      '{"t":2,"event":"summary","seconds":1,"transfers":[{"from":1,"file":"f","segments":3},{"from":5,"file":"f","segments":1}]}',
      ''
    ].join('\n')
    const s = parseGetSummary(out)
    assert.deepEqual(s, [{ from: 1, file: 'f', segments: 3 }, { from: 5, file: 'f', segments: 1 }])
    assert.equal(seedShareOf([s, [{ from: 5, file: 'f', segments: 4 }]], 1), 3 / 8)
    assert.equal(seedShareOf([s, null], 1), null)
    assert.equal(parseGetSummary('no json here'), null)
  })
})

describe('swarm phases', () => {
  // Seed is peer 1; getters started at t = 1000. Segment 0 reaches getter A from the seed at 1500 and
  // getter B from A at 1900; segment 1 reaches B from the seed at 1600 and A from B at 1700.
  const a = [
    '{"t":1400,"event":"start","file":"f"}',
    '{"t":1500,"event":"segment","file":"f","index":0,"from":1,"bytes":1,"have":1,"total":2}',
    'dfss get: a warning line',
    '{"t":1700,"event":"segment","file":"f","index":1,"from":3,"bytes":1,"have":2,"total":2}',
    '{"t":1750,"event":"done","file":"f","path":"/x/f","ms":1}',
    '{"t":1760,"event":"summary","seconds":1,"transfers":[]}'
  ].join('\n')
  const b = [
    '{"t":1600,"event":"segment","file":"f","index":1,"from":1,"bytes":1,"have":1,"total":2}',
    '{"t":1900,"event":"segment","file":"f","index":0,"from":2,"bytes":1,"have":2,"total":2}',
    '{"t":2000,"event":"done","file":"f","path":"/y/f","ms":1}'
  ].join('\n')

  it('keeps only the segment and done events of a getter\'s output', () => {
    assert.deepEqual(parseGetterEvents(a).map(e => e.event), ['segment', 'segment', 'done'])
    assert.deepEqual(parseGetterEvents(a)[0], { t: 1500, event: 'segment', from: 1, index: 0, total: 2 })
  })

  it('splits a run into start-up, the seed\'s pass and the tail', () => {
    const p = swarmPhases([parseGetterEvents(a), parseGetterEvents(b)], 1, 1000)
    assert.deepEqual(p, { startupS: 0.5, passS: 0.1, tailS: 0.4, spreadMedianS: 0.25, spreadP90S: 0.4, spreadMaxS: 0.4 })
  })

  it('takes the seed\'s first send of a segment and its last copy, whatever order the getters come in', () => {
    const seg = (t: number, index: number, from: number): GetterEvent => ({ t, event: 'segment', index, from, total: 2 })
    // The seed sent segment 0 twice (1500, then 1800); segment 1's last copy (2100) is listed first.
    const g1 = [seg(1500, 0, 1), seg(2100, 1, 3), { t: 2150, event: 'done' }]
    const g2 = [seg(1300, 1, 1), seg(1800, 0, 1), { t: 2200, event: 'done' }]
    assert.deepEqual(swarmPhases([g1, g2], 1, 1000), { startupS: 0.3, passS: 0.2, tailS: 0.7, spreadMedianS: 0.55, spreadP90S: 0.8, spreadMaxS: 0.8 })
  })

  it('ends the run at the last getter\'s done event, or not at all when a getter printed none', () => {
    assert.equal(lastDoneMs([parseGetterEvents(a), parseGetterEvents(b)]), 2000)
    assert.equal(lastDoneMs([parseGetterEvents(b), parseGetterEvents(a)]), 2000)
    // a getter with two files is done at its later one
    assert.equal(lastDoneMs([[{ t: 2500, event: 'done' }, { t: 2400, event: 'done' }], parseGetterEvents(b)]), 2500)
    assert.equal(lastDoneMs([parseGetterEvents(a), parseGetterEvents(b).filter(e => e.event !== 'done')]), null)
    assert.equal(lastDoneMs([]), null)
  })

  it('has no phases when a getter never finished, or a segment never came from the seed', () => {
    assert.equal(swarmPhases([parseGetterEvents(a), parseGetterEvents(b).filter(e => e.event !== 'done')], 1, 1000), null)
    assert.equal(swarmPhases([parseGetterEvents(a), parseGetterEvents(b)], 9, 1000), null)
    // A getter that resumed with segment 1 already on disk: only segment 0 arrives, from the seed.
    assert.equal(swarmPhases([parseGetterEvents(a).filter(e => e.index !== 1)], 1, 1000), null)
  })
})

describe('report', () => {
  const run = (wallS: number | null, extra: Partial<SystemRun> = {}): SystemRun => ({ ok: wallS !== null, wallS, cpuS: wallS, bytes: 3 * 1024 * MiB, peakRssKiB: { getter: 100 * 1024 }, ...extra })

  it('summarises a system: throughput, CPU per GiB and the largest RSS per role', () => {
    const s = summarizeSystem([run(3), run(6, { peakRssKiB: { getter: 150 * 1024, seed: 50 * 1024 } }), run(null, { error: 'boom' })])
    assert.equal(s.failed, 1)
    assert.deepEqual(s.errors, ['boom'])
    assert.deepEqual(s.wallS, { median: 4.5, min: 3, max: 6, n: 2 })
    assert.equal(s.mibPerS?.max, 1024)
    assert.equal(s.cpuSPerGiB?.min, 1)
    assert.deepEqual(s.peakRssMiB, { getter: 150, seed: 50 })
  })

  it('renders every section with per-run ratios and efficiencies', () => {
    const r: BenchResults = {
      date: '2026-01-01T00:00:00.000Z',
      command: 'node bin/dfss.js bench',
      machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 24, node: '20.0.0', os: 'Linux', loadAtStart: [0.5, 0.4, 0.3] },
      quick: false,
      runs: 2,
      notes: ['a note'],
      classic: [{ name: 'test1', ranks: 4, dfss: [0.6, 0.8], floor: [0.2, 0.2], floorNoCa: [0.1, 0.1], mpirun: null, mpirunFloor: null, errors: [] }],
      raw: { name: 'raw', fileBytes: 1024 * MiB, downloaders: 3, uploadLimit: null, fluidBoundS: null, systems: { dfss: [run(2, { prepS: 0.6 }), run(4, { prepS: 0.7 })], aria2: [run(8, { prepS: 0.5, durableS: 10 }), run(8, { prepS: 0.5, durableS: 10 })], disk: [run(1), run(2)] } },
      swarm: [{ name: 'swarm N=3', fileBytes: 256 * MiB, downloaders: 3, uploadLimit: 20 * MiB, fluidBoundS: 12.8, systems: { dfss: [run(16, { phases: { startupS: 1, passS: 13, tailS: 1.5, spreadMedianS: 0.5, spreadP90S: 0.9, spreadMaxS: 1 }, exitS: 0.9 }), run(12.8, { phases: { startupS: 0.5, passS: 11, tailS: 1, spreadMedianS: 0.7, spreadP90S: 0.9, spreadMaxS: 1 }, exitS: 0.1 })], aria2: [run(20), run(20)] } }],
      scale: { name: 'scale', fileBytes: 64 * MiB, downloaders: 31, uploadLimit: null, fluidBoundS: null, systems: { dfss: [run(5, { seedShare: 0.2 }), run(5, { seedShare: 0.3 })] } }
    }
    const md = renderReport(r)
    assert.match(md, /Test CPU, 2 cores, 24 GiB, Node 20\.0\.0/)
    assert.match(md, /\| test1 +\| +4 \| 0\.70 \(0\.60–0\.80\) \| +0\.20 \| 3\.50 \(3\.00–4\.00\) \|/)
    assert.match(md, /DFSS ÷ aria2 wall time: \*\*0\.38 \(0\.25–0\.50\)\*\*/)
    assert.match(md, /\| 3 +\| +12\.80 \|.*\| +90% \(80–100\) \|.*\| +64% \|/)
    assert.match(md, /25\.0% \(20\.0–30\.0\)/)
    assert.match(md, /\| 3 +\| 0\.75 \(0\.50–1\.00\) \| 12\.00 \(11\.00–13\.00\) \| 1\.25 \(1\.00–1\.50\) \| +0\.50 \(0\.10–0\.90\) \| 0\.60 \(0\.50–0\.70\) \|/)
    assert.match(md, /- a note/)
    assert.match(md, /\| disk bound: dd oflag=direct conv=fsync ×N +\| 1\.50 \(1\.00–2\.00\) \|/)
    assert.match(md, /DFSS ÷ disk bound \(3 copies .*\): \*\*2\.00\*\*/)
    assert.match(md, /until its copies were on disk as well .*: 10\.00 s, DFSS ÷ that: \*\*0\.30 \(0\.20–0\.40\)\*\*/)
    assert.match(md, /seed preparation, not timed above .*: DFSS `share` \(SHA-256\) 0\.65 \(0\.60–0\.70\) s, `mktorrent` \(SHA-1, until it exits\) 0\.50 s/)
  })
})
