import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { unsafeNameReason } from '../../src/protocol/names.ts'

describe('unsafeNameReason', () => {
  const refused: Array<[string, RegExp]> = [
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['/', /absolute/],
    ['..', /"\.\."/],
    ['../x', /"\.\."/],
    ['a/../../x', /"\.\."/],
    ['a/..', /"\.\."/],
    ['.', /"\."/],
    ['./a', /"\."/],
    ['a/./b', /"\."/],
    ['a//b', /empty/],
    ['a/', /empty/],
    ['a\0b', /NUL/],
    ['\0', /NUL/],
    ['a\\b', /backslash/],
    ['..\\x', /backslash/],
    ['C:x', /drive-letter/],
    ['c:/windows', /drive-letter/],
    ['Z:', /drive-letter/]
  ]
  for (const [name, reason] of refused) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      const r = unsafeNameReason(name)
      assert.ok(r !== null, `${JSON.stringify(name)} was accepted`)
      assert.match(r, reason)
    })
  }

  const accepted = ['a', 'file1', 'logs/a.csv', 'a/b/c/d.txt', '...', '..a', 'a..', '.hidden', 'dir/.hidden', 'a b', 'é/ü.txt', '1:2', 'ab:c']
  for (const name of accepted) {
    it(`accepts ${JSON.stringify(name)}`, () => assert.equal(unsafeNameReason(name), null))
  }

  it('property: an accepted name never escapes a directory when joined as a relative path', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('a', 'b', '.', '..', '', '/', '\\', ':', '\0', 'C'), { maxLength: 8 }), parts => {
      const name = parts.join('')
      if (unsafeNameReason(name) !== null) return
      const segs = name.split('/')
      assert.ok(name.length > 0 && !name.startsWith('/') && !/^[A-Za-z]:/.test(name))
      assert.ok(segs.every(s => s !== '' && s !== '.' && s !== '..' && !s.includes('\\') && !s.includes('\0')), name)
    }), { seed: 42, numRuns: 2000 })
  })
})
