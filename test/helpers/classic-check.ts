import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parseClassicInput } from '../../src/classic/input.ts'
import type { RunStats } from '../../src/launch/stats.ts'

/** Checks every clientR_<file> a wanting rank must write against the fixture's outK.txt (whitespace-insensitive, like `diff -w`). */
export async function checkOutputs (dir: string, ranks: number): Promise<number> {
  let checked = 0
  for (let r = 1; r < ranks; r++) {
    const input = parseClassicInput(await readFile(path.join(dir, `in${r}.txt`), 'utf8'), `in${r}.txt`)
    for (const want of input.wants) {
      const k = /^file([0-9]+)$/.exec(want)?.[1]
      const expectedFile = k !== undefined ? path.join(dir, `out${k}.txt`) : path.join(dir, `out-${want}.txt`)
      const expected = (await readFile(expectedFile, 'utf8')).split(/\s+/).filter(Boolean)
      const got = (await readFile(path.join(dir, `client${r}_${want}`), 'utf8')).split(/\s+/).filter(Boolean)
      assert.deepEqual(got, expected, `client${r}_${want}`)
      checked++
    }
  }
  return checked
}

/** Owners of each file at the start, from the inputs. */
export async function holdersAtStart (dir: string, ranks: number): Promise<Map<string, number>> {
  const holders = new Map<string, number>()
  for (let r = 1; r < ranks; r++) {
    const input = parseClassicInput(await readFile(path.join(dir, `in${r}.txt`), 'utf8'), `in${r}.txt`)
    for (const o of input.owned) holders.set(o.name, (holders.get(o.name) ?? 0) + 1)
  }
  return holders
}

/** The statement's efficiency rule: a file with >= 2 holders at start never comes more than 60% from one source. */
export function checkSpread (stats: RunStats, holders: Map<string, number>): void {
  const byTarget = new Map<string, number[]>()
  for (const t of stats.transfers) {
    if ((holders.get(t.file) ?? 0) < 2) continue
    const key = `${t.to}/${t.file}`
    byTarget.set(key, [...(byTarget.get(key) ?? []), t.segments])
  }
  for (const [key, parts] of byTarget) {
    const total = parts.reduce((a, b) => a + b, 0)
    const max = Math.max(...parts)
    assert.ok(max <= 0.6 * total, `${key}: ${max} of ${total} segments came from one source (more than 60%)`)
  }
}
