import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os, { availableParallelism } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { MAX_LINGER_S, parseLinger } from '../../src/cli/main.ts'
import { deriveFileId } from '../../src/protocol/file-id.ts'
import { LARGE_FILE_BYTES, defaultSegmentSize, hashFile } from '../../src/storage/hasher.ts'
import { BIN, ROOT, refusingAddress, runCommand, runDfss, type CliResult } from '../helpers/cli.ts'

const COMMANDS = ['run', 'demo', 'tracker', 'share', 'get', 'ls', 'bench', 'mpi']

/** Runs `dfss run -n N` on a fresh directory holding `inputs` (name -> text); returns the result and the files left. */
async function runOn (n: number, inputs: Record<string, string>): Promise<{ res: CliResult, files: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-cli-'))
  try {
    for (const [name, text] of Object.entries(inputs)) await writeFile(path.join(dir, name), text)
    const res = await runDfss(['run', '-n', String(n), dir])
    return { res, files: (await readdir(dir)).sort() }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** `dfss ARGS` under `ulimit -v KIB` (Linux sh). */
async function runDfssUnderUlimit (kib: number, args: string[], cwd: string): Promise<CliResult> {
  return await runCommand('/bin/sh', ['-c', `ulimit -v ${kib} && exec "$0" "$@"`, process.execPath, BIN, ...args], { cwd, timeoutMs: 60_000 })
}

describe('dfss CLI', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
    const res = await runDfss(['--version'])
    assert.equal(res.code, 0)
    assert.equal(res.stdout.trim(), pkg.version)
  })

  it('--help lists every command', async () => {
    const res = await runDfss(['--help'])
    assert.equal(res.code, 0)
    for (const c of COMMANDS) assert.match(res.stdout, new RegExp(`^  ${c}\\b`, 'm'), c)
  })

  for (const c of COMMANDS) {
    it(`${c} --help works`, async () => {
      const res = await runDfss([c, '--help'])
      assert.equal(res.code, 0, res.stderr)
      assert.match(res.stdout, /Usage: dfss/)
    })
  }

  it('an unknown command fails', async () => {
    const res = await runDfss(['frobnicate'])
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /unknown command/)
  })

  it('run -n 1 is refused with a clear message', async () => {
    const res = await runDfss(['run', '-n', '1', '.'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /at least 2/)
  })

  it('run with a bad input file names the file and line, exits 2 and starts nothing', async () => {
    const { res, files } = await runOn(3, { 'in1.txt': '1\nfile1 2\n3fcfb9d1242fdce64aee2bfe35266912\nnot-a-hash\n0', 'in2.txt': '0\n1\nfile1' })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /in1\.txt:4: hash 2 of "file1" is not 32 hexadecimal characters/)
    assert.deepEqual(files, ['in1.txt', 'in2.txt'])
  })

  it('run with a missing input file names it', async () => {
    const { res } = await runOn(3, { 'in1.txt': '0\n0' })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /in2\.txt.*cannot read: ENOENT/)
  })

  it('run with a wanted file nobody owns names the file and line', async () => {
    const { res } = await runOn(2, { 'in1.txt': '0\n2\nghost\nspecter' })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /in1\.txt:3: wanted file "ghost" is not owned by any peer/)
  })

  it('mpi outside a launcher says how to start it', async () => {
    const env: NodeJS.ProcessEnv = {}
    for (const k of ['OMPI_COMM_WORLD_RANK', 'PMIX_RANK', 'PMI_RANK', 'SLURM_PROCID', 'DFSS_RANK']) env[k] = ''
    const res = await runDfss(['mpi'], { env })
    assert.equal(res.code, 2)
    assert.match(res.stderr, /no rank in the environment/)
  })

  it('get without --tracker is a usage error', async () => {
    const res = await runDfss(['get', 'x', '-o', os.tmpdir()])
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /--tracker/)
  })

  it('a bad --upload-limit is refused', async () => {
    const res = await runDfss(['get', 'x', '-o', os.tmpdir(), '-t', '127.0.0.1:1', '--upload-limit', 'fast'])
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /not a rate/)
  })

  it('--linger takes 0 to a day of seconds, nothing else', () => {
    assert.equal(parseLinger('0'), 0)
    assert.equal(parseLinger('2.5'), 2.5)
    assert.equal(parseLinger(String(MAX_LINGER_S)), MAX_LINGER_S)
    for (const bad of ['', ' ', '-1', 'soon', 'Infinity', String(MAX_LINGER_S + 1), '1e9']) assert.throws(() => parseLinger(bad), /expected 0 to/, bad)
  })

  it('a bad --linger is refused before anything starts', async () => {
    const res = await runDfss(['get', 'x', '-o', os.tmpdir(), '-t', '127.0.0.1:1', '--linger', '-1'])
    assert.notEqual(res.code, 0)
    assert.match(res.stderr, /--linger.*expected 0 to/)
  })

  it('share cuts files over 512 MiB into 2 MiB segments unless told a size, smaller ones into 1 MiB', async () => {
    assert.equal(defaultSegmentSize(0), 1024 * 1024)
    assert.equal(defaultSegmentSize(LARGE_FILE_BYTES), 1024 * 1024)
    assert.equal(defaultSegmentSize(LARGE_FILE_BYTES + 1), 2 * 1024 * 1024)
    assert.equal(defaultSegmentSize(2 ** 40), 2 * 1024 * 1024)
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-segsize-'))
    try {
      // Sparse files: no disk used, read back as zeros.
      for (const [name, size] of [['at-limit.bin', LARGE_FILE_BYTES], ['above.bin', LARGE_FILE_BYTES + 1]] as const) {
        const fh = await open(path.join(dir, name), 'w')
        await fh.truncate(size)
        await fh.close()
      }
      const tracker = await refusingAddress()
      const r = await runDfss(['share', 'at-limit.bin', 'above.bin', '-t', tracker, '--host', '127.0.0.1'], { cwd: dir })
      assert.match(r.stdout, /^hashed at-limit\.bin: 512\.0 MiB, 512 segments of 1\.0 MiB, id /m)
      assert.match(r.stdout, /^hashed above\.bin: 512\.0 MiB, 257 segments of 2\.0 MiB, id /m)
      const told = await runDfss(['share', 'above.bin', '--segment-size', '1MiB', '-t', tracker, '--host', '127.0.0.1'], { cwd: dir })
      assert.match(told.stdout, /^hashed above\.bin: 512\.0 MiB, 513 segments of 1\.0 MiB, id /m)
      // Nothing listens at the port: an ordinary failure once hashed.
      assert.equal(r.code, 1, r.stderr)
      assert.equal(told.code, 1, told.stderr)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('share hashes a large file on one thread under a tight `ulimit -v` instead of dying starting threads', { skip: process.platform !== 'linux' || availableParallelism() < 2 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-ulimit-'))
    try {
      const file = path.join(dir, 'big.bin')
      await writeFile(file, randomBytes(40 * 64 * 1024 + 5))
      const meta = await hashFile(file, 'big.bin', 64 * 1024)
      // 1.8 GB of address space: room for Node, not for the 1 GiB each hashing thread is allowed (a thread
      // reserves 0.6-0.9 GiB; where it cannot, V8 kills the whole process).
      // Nothing listens at the port, so the share ends once it has hashed.
      const tracker = await refusingAddress()
      const r = await runDfssUnderUlimit(1_800_000, ['share', file, '--segment-size', '64KiB', '-t', tracker, '--host', '127.0.0.1'], dir)
      assert.equal(r.signal, null, r.stderr)
      assert.match(r.stdout, new RegExp(`^hashed big\\.bin: .*, 41 segments of 64\\.0 KiB, id ${deriveFileId(meta).slice(0, 16)}, in `, 'm'))
      // Then it cannot reach the tracker: an ordinary failure, not a crash.
      assert.equal(r.code, 1, r.stderr)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a bad tracker address is refused', async () => {
    const res = await runDfss(['ls', '-t', 'nohostport'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /expected HOST:PORT/)
  })
})
