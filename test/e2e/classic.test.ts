import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readdir, readFile, rm, writeFile, mkdtemp, chmod } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { writeFlashCrowd } from '../../src/classic/generate.ts'
import type { RunStats } from '../../src/launch/stats.ts'
import { checkOutputs, checkSpread, holdersAtStart } from '../helpers/classic-check.ts'
import { BIN, copyFixture, ranksOf, runCommand, runDfss } from '../helpers/cli.ts'

const TESTS = ['test1', 'test2', 'test3', 'test4']

function hasMpirun (): boolean {
  try { execFileSync('mpirun', ['--version'], { stdio: 'ignore' }); return true } catch { return false }
}

describe('classic mode through dfss run', () => {
  for (const name of TESTS) {
    it(`${name}: every client file matches and the efficiency rule holds`, async () => {
      const dir = await copyFixture(name)
      const n = await ranksOf(dir)
      const statsFile = path.join(dir, 'stats.json')
      const res = await runDfss(['run', '-n', String(n), dir, '--stats', statsFile, '--timeout', '30'])
      assert.equal(res.code, 0, res.stderr)
      assert.match(res.stdout, /ranks finished in/)
      assert.ok((await checkOutputs(dir, n)) > 0)
      const stats = JSON.parse(await readFile(statsFile, 'utf8')) as RunStats
      assert.equal(stats.ranks, n)
      assert.ok(stats.elapsedMs > 0)
      assert.deepEqual(Object.keys(stats.uploads).map(Number), Array.from({ length: n - 1 }, (_, i) => i + 1))
      const moved = stats.transfers.reduce((a, t) => a + t.segments, 0)
      assert.equal(Object.values(stats.uploads).reduce((a, b) => a + b, 0), moved)
      for (const t of stats.transfers) assert.ok(t.segments > 0 && t.to !== t.from)
      checkSpread(stats, await holdersAtStart(dir, n))
      // nothing half-written is left behind
      assert.deepEqual((await readdir(dir)).filter(f => f.endsWith('.tmp')), [])
      await rm(dir, { recursive: true, force: true })
    })
  }

  it('flash crowd: one seed, 31 peers, 100 segments: the seed uploads at most 25%', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-crowd-'))
    const n = await writeFlashCrowd(dir, 31, 100)
    const statsFile = path.join(dir, 'stats.json')
    const res = await runDfss(['run', '-n', String(n), dir, '--stats', statsFile, '--timeout', '60', '-q'], { timeoutMs: 90_000 })
    assert.equal(res.code, 0, res.stderr)
    assert.equal(await checkOutputs(dir, n), 31)
    const stats = JSON.parse(await readFile(statsFile, 'utf8')) as RunStats
    const total = Object.values(stats.uploads).reduce((a, b) => a + b, 0)
    assert.equal(total, 3100)
    assert.ok((stats.uploads['1'] ?? 0) <= 0.25 * total, `seed uploaded ${stats.uploads['1']} of ${total}`)
    await rm(dir, { recursive: true, force: true })
  })
})

describe('classic mode under mpirun', { skip: hasMpirun() ? false : 'mpirun not found (install openmpi-bin; .ci/run does)' }, () => {
  for (const name of TESTS) {
    it(`${name} with the upstream checker's command and a two-line wrapper`, async () => {
      const dir = await copyFixture(name)
      const n = await ranksOf(dir)
      const wrapper = path.join(dir, 'dfss-wrapper.sh')
      await writeFile(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" mpi --stats stats.json "$@"\n`)
      await chmod(wrapper, 0o755)
      const res = await runCommand('timeout', ['20', 'mpirun', '--oversubscribe', '-np', String(n), wrapper], {
        cwd: dir,
        env: { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' },
        timeoutMs: 30_000
      })
      assert.equal(res.code, 0, res.stderr)
      assert.ok((await checkOutputs(dir, n)) > 0)
      for (const f of await readdir(dir)) if (f.startsWith('client')) execFileSync('diff', ['-q', '-w', path.join(dir, f), path.join(dir, `out${f.split('_file')[1] ?? ''}.txt`)])
      const stats = JSON.parse(await readFile(path.join(dir, 'stats.json'), 'utf8')) as RunStats
      checkSpread(stats, await holdersAtStart(dir, n))
      assert.deepEqual((await readdir(dir)).filter(f => f.startsWith('.dfss-tracker')), [], 'rendezvous file removed')
      await rm(dir, { recursive: true, force: true })
    })
  }
})
