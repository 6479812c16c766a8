import assert from 'node:assert/strict'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { describe, it, type TestContext } from 'node:test'
import { writeFlashCrowd } from '../../src/classic/generate.ts'
import { runDfss } from '../helpers/cli.ts'
import { spawnDfss, tempDir, type LongRunning } from '../helpers/proc.ts'

/** Pids of processes (other than this one) whose command line mentions `needle`. */
async function processesWith (needle: string): Promise<number[]> {
  const out: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) continue
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes(needle)) out.push(Number(entry))
  }
  return out
}

/** A 33-rank `dfss run` of a flash crowd, once its tracker listens (the ranks are busy for seconds then). */
async function startCrowdRun (t: TestContext, name: string): Promise<{ dir: string, run: LongRunning }> {
  const dir = await tempDir(t, name)
  const ranks = await writeFlashCrowd(dir, 31)
  const run = spawnDfss(t, 'dfss run', ['run', '-n', String(ranks), dir, '--timeout', '60'], { env: { NODE_DEBUG: 'dfss:rank' } })
  await run.waitFor(/tracker listening/, { stream: 'stderr', timeoutMs: 30_000 })
  return { dir, run }
}

describe('dfss run launcher', () => {
  it('--timeout kills every rank and names the ones still running', async (t) => {
    const dir = await tempDir(t, 'run-timeout')
    const ranks = await writeFlashCrowd(dir, 31)
    const res = await runDfss(['run', '-n', String(ranks), dir, '--timeout', '0.2', '-q'])
    assert.equal(res.code, 1, res.stderr)
    assert.match(res.stderr, /timed out after 200 ms; ranks still running: [0-9]/)
    assert.deepEqual(await processesWith(dir), [], 'no rank outlives dfss run')
  })

  it('SIGINT to dfss run reaches every rank, and the run fails naming them', async (t) => {
    const { dir, run } = await startCrowdRun(t, 'run-sigint')
    run.child.kill('SIGINT')
    const exit = await run.waitExit(30_000)
    assert.equal(exit.code, 130, 'exits as a process stopped by SIGINT')
    assert.match(run.stderr, /stopped by SIGINT/)
    assert.deepEqual(await processesWith(dir), [], 'no rank outlives dfss run')
  })

  it('no rank outlives a dfss run killed with SIGKILL', async (t) => {
    const { dir, run } = await startCrowdRun(t, 'run-sigkill')
    run.child.kill('SIGKILL')
    await run.exited
    // The ranks are not our children: /proc is the only place to watch them go (bounded, 50 ms steps).
    const deadline = performance.now() + 10_000
    let left = await processesWith(dir)
    while (left.length > 0 && performance.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
      left = await processesWith(dir)
    }
    assert.deepEqual(left, [], 'the launcher took every rank along')
  })

  it('reports the exit code of a failing rank', async (t) => {
    const dir = await tempDir(t, 'run-fail')
    const ranks = await writeFlashCrowd(dir, 3)
    // Rank 2 cannot write its output: its target name is taken by a directory.
    await mkdir(`${dir}/client2_crowd`)
    const res = await runDfss(['run', '-n', String(ranks), dir, '--timeout', '60'])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /rank 2 exited with code 1/)
  })
})
