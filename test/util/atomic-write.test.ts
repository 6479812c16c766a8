import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { writeFileAtomic } from '../../src/util/atomic-write.ts'

async function withDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfss-atomic-'))
  try { await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

describe('writeFileAtomic', () => {
  it('replaces the file with the whole new content and leaves no temp file', async () => {
    await withDir(async dir => {
      const file = path.join(dir, 'out.txt')
      await writeFile(file, 'old')
      await writeFileAtomic(file, 'new content\n')
      await writeFileAtomic(file, Buffer.from('newer\n'), { durable: false })
      assert.equal(await readFile(file, 'utf8'), 'newer\n')
      assert.deepEqual(await readdir(dir), ['out.txt'])
    })
  })

  it('steps over temp names already taken (a crashed process with the same pid) without touching them', async () => {
    await withDir(async dir => {
      const file = path.join(dir, 'out.txt')
      // The first 40 names this process's counter gives: whatever it is at now (earlier tests used
      // some), the next write meets taken names until it passes them.
      const stale = Array.from({ length: 40 }, (_, k) => `.out.txt.${process.pid}-${(k + 1).toString(36)}.tmp`)
      await Promise.all(stale.map(async n => { await writeFile(path.join(dir, n), 'stale') }))
      await writeFileAtomic(file, 'fresh')
      assert.equal(await readFile(file, 'utf8'), 'fresh')
      const left = (await readdir(dir)).filter(n => n !== 'out.txt')
      assert.equal(left.length, stale.length, 'exactly the stale files remain')
      for (const n of left) assert.equal(await readFile(path.join(dir, n), 'utf8'), 'stale')
    })
  })

  it('fails cleanly when the directory does not exist', async () => {
    await withDir(async dir => {
      await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'out.txt'), 'x'), { code: 'ENOENT' })
    })
  })
})
