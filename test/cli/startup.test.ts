import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { BIN, copyFixture, ranksOf, runCommand, runDfss } from '../helpers/cli.ts'

/** A CA file that does not exist: a Node process that tries to load it says so on stderr. */
const MISSING_CA = { NODE_EXTRA_CA_CERTS: '/nonexistent/dfss-test-ca.pem' }
const CA_WARNING = /Ignoring extra certs/g

describe('start-up path', () => {
  it('ranks run the bundled entry and V8 takes its code cache', async () => {
    const res = await runDfss(['rank', '--help'], { env: { NODE_DEBUG: 'dfss:boot' } })
    assert.equal(res.code, 0, res.stderr)
    // The cache is made under the rank bundle's V8 flags: taken only if the rank runs with them too.
    assert.match(res.stderr, /rank entry: bundle, code cache accepted, V8 flags set: --interrupt-budget=675840/)
    assert.match(res.stdout, /Usage: dfss mpi/)
  })

  it('the CLI runs its bundle with the code cache too, and the bench from the modules', async () => {
    const res = await runDfss(['--version'], { env: { NODE_DEBUG: 'dfss:boot' } })
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stderr, /cli entry: bundle, code cache accepted, V8 flags set: none/)
    const bench = await runDfss(['bench', '--help'], { env: { NODE_DEBUG: 'dfss:boot' } })
    assert.equal(bench.code, 0, bench.stderr)
    assert.match(bench.stderr, /cli entry: modules/)
  })

  it('the dfss executable starts without the extra CA certificates it never uses', async () => {
    const viaNode = await runCommand(process.execPath, [BIN, '--version'], { env: MISSING_CA })
    assert.match(viaNode.stderr, CA_WARNING, 'control: plain node loads them')
    const direct = await runCommand(BIN, ['--version'], { env: MISSING_CA })
    assert.equal(direct.code, 0, direct.stderr)
    assert.doesNotMatch(direct.stderr, CA_WARNING)
  })

  it('dfss run starts its ranks without them', async () => {
    const dir = await copyFixture('test1')
    try {
      const res = await runDfss(['run', '-n', String(await ranksOf(dir)), dir, '-q'], { env: MISSING_CA })
      assert.equal(res.code, 0, res.stderr)
      assert.equal(res.stderr.match(CA_WARNING)?.length, 1, `only the parent (started with plain node) warns:\n${res.stderr}`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
