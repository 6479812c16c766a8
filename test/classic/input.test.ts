import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { CLASSIC_LIMITS, InputError, checkScenario, parseClassicInput } from '../../src/classic/input.ts'
import type { ClassicInput } from '../../src/classic/input.ts'

// The compiled test runs from dist/test/classic/; the fixtures stay in the source tree.
const fixture = (test: number, rank: number): string =>
  readFileSync(new URL(`../../../test/fixtures/test${test}/in${rank}.txt`, import.meta.url), 'utf8')
const fixtureLines = (test: number, rank: number): string[] => fixture(test, rank).split('\n')

const H = '0123456789abcdef0123456789abcdef'
const h = (i: number): string => i.toString(16).padStart(32, '0')

/** Expects parseClassicInput to throw an InputError naming `in1.txt` and exactly `line`. */
function failsAt (text: string, line: number, message?: RegExp): void {
  assert.throws(() => parseClassicInput(text, 'in1.txt'), (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`)
    assert.equal(err.file, 'in1.txt')
    assert.equal(err.line, line, err.message)
    assert.ok(err.message.startsWith(`in1.txt:${line}: `), err.message)
    if (message !== undefined) assert.match(err.message, message)
    return true
  })
}

describe('parseClassicInput: the public fixtures', () => {
  // [test, rank, owned name -> segment count (first line of the file's hashes), wants]
  const expected: Array<[number, number, Array<[string, number, number]>, string[]]> = [
    [1, 1, [['file1', 100, 3], ['file2', 50, 104]], ['file3']],
    [1, 2, [['file3', 75, 3]], ['file1']],
    [1, 3, [], ['file1', 'file2', 'file3']],
    [2, 1, [['file1', 80, 3], ['file2', 60, 84]], ['file7']],
    [2, 2, [['file3', 75, 3], ['file4', 30, 79]], ['file6']],
    [2, 3, [['file5', 50, 3], ['file6', 60, 54]], ['file4']],
    [2, 4, [['file1', 80, 3], ['file7', 70, 84]], ['file2']],
    [2, 5, [['file2', 60, 3], ['file3', 75, 64]], ['file1', 'file4', 'file5']],
    [3, 1, [['file1', 80, 3]], ['file2']],
    [3, 2, [['file2', 75, 3]], ['file1']],
    [3, 3, [], ['file1']],
    [3, 4, [], ['file2']],
    [4, 1, [['file1', 80, 3]], []],
    [4, 2, [['file1', 80, 3]], []],
    [4, 3, [], ['file1']],
    [4, 4, [], ['file1']],
    [4, 5, [], ['file1']],
    [4, 6, [], ['file1']]
  ]

  for (const [test, rank, owned, wants] of expected) {
    it(`test${test}/in${rank}.txt`, () => {
      const lines = fixtureLines(test, rank)
      const parsed = parseClassicInput(fixture(test, rank), `in${rank}.txt`)
      assert.deepEqual(parsed.owned.map(o => [o.name, o.hashes.length]), owned.map(([n, c]) => [n, c]))
      for (const [i, [, count, firstLine]] of owned.entries()) {
        // hashes are the `count` lines that follow the header, in order
        assert.deepEqual(parsed.owned[i]?.hashes, lines.slice(firstLine - 1, firstLine - 1 + count))
      }
      assert.deepEqual(parsed.wants, wants)
      // wantLines are the 1-based lines of the wanted names
      assert.deepEqual(parsed.wantLines.map(l => lines[l - 1]), wants)
      assert.equal(parsed.wantLines.at(-1) ?? lines.length, lines.length)
    })
  }

  it('test2/in5.txt: wanted names on lines 140-142', () => {
    assert.deepEqual(parseClassicInput(fixture(2, 5), 'in5.txt').wantLines, [140, 141, 142])
  })

  it('CRLF line ends parse the same', () => {
    const text = fixture(1, 1)
    assert.deepEqual(parseClassicInput(text.replace(/\n/g, '\r\n'), 'x'), parseClassicInput(text, 'x'))
  })

  for (const test of [1, 2, 3, 4]) {
    it(`checkScenario accepts test${test}`, () => {
      const ranks = { 1: 3, 2: 5, 3: 4, 4: 6 }[test] as number
      const files = Array.from({ length: ranks }, (_, i) => `in${i + 1}.txt`)
      const inputs = files.map((f, i) => parseClassicInput(fixture(test, i + 1), f))
      assert.doesNotThrow(() => checkScenario(inputs, files))
    })
  }
})

describe('parseClassicInput: well-formed edge cases', () => {
  it('both counts 0', () => assert.deepEqual(parseClassicInput('0\n0', 'x'), { owned: [], wants: [], wantLines: [] }))
  it('a file with 0 segments', () => assert.deepEqual(parseClassicInput('1\nf 0\n0\n', 'x').owned, [{ name: 'f', hashes: [] }]))
  it('trailing newline and blank lines after the last wanted file', () => {
    assert.deepEqual(parseClassicInput('0\n1\na\n\n  \n', 'x').wants, ['a'])
  })
  it('uppercase hex is a hash too', () => assert.deepEqual(parseClassicInput(`1\nf 1\n${H.toUpperCase()}\n0`, 'x').owned[0]?.hashes, [H.toUpperCase()]))
  it('surrounding whitespace is ignored', () => {
    assert.deepEqual(parseClassicInput(` 1 \n  f\t 1 \n ${H} \n 1\n g `, 'x'), { owned: [{ name: 'f', hashes: [H] }], wants: ['g'], wantLines: [5] })
  })
  it('the limits themselves are accepted: 10 owned files of 100 segments, 15-character names', () => {
    const names = Array.from({ length: CLASSIC_LIMITS.maxFiles }, (_, i) => `${'n'.repeat(13)}${String(i).padStart(2, '0')}`)
    const text = [String(names.length), ...names.flatMap(n => [`${n} 100`, ...Array.from({ length: 100 }, (_, s) => h(s))]), '10',
      ...Array.from({ length: 10 }, (_, i) => `w${i}`)].join('\n')
    const parsed = parseClassicInput(text, 'x')
    assert.equal(parsed.owned.length, 10)
    assert.ok(parsed.owned.every(o => o.hashes.length === 100 && o.name.length === 15))
    assert.equal(parsed.wants.length, 10)
  })
})

describe('parseClassicInput: every malformed case names the exact line', () => {
  it('missing count: empty file -> line 1', () => failsAt('', 1, /unexpected end of file/))
  it('missing count: blank first line -> line 1', () => failsAt('\n0\n', 1))
  it('missing wanted count -> the line after the last hash', () => failsAt(`1\nf 1\n${H}\n`, 4, /unexpected end of file/))

  it('bad owned count "abc" -> line 1', () => failsAt('abc\n0\n', 1, /"abc"/))
  it('bad owned count "-1" -> line 1', () => failsAt('-1\n0\n', 1, /"-1"/))
  it('bad owned count "01", "1.0", "1 2" -> line 1', () => { failsAt('01\n', 1); failsAt('1.0\n', 1); failsAt('1 2\n', 1) })
  it('bad wanted count "abc" -> its line', () => failsAt(`1\nf 1\n${H}\nabc\n`, 4, /"abc"/))
  it('bad wanted count "-1" -> its line', () => failsAt('0\n-1\n', 2))

  it('hash of 31 characters -> its line', () => failsAt(`1\nf 2\n${H}\n${H.slice(1)}\n0`, 4, /hash 2 of "f"/))
  it('hash of 33 characters -> its line', () => failsAt(`1\nf 1\n${H}0\n0`, 3))
  it('non-hex hash -> its line', () => failsAt(`1\nf 2\n${'g' + H.slice(1)}\n${H}\n0`, 3, /hash 1 of "f"/))
  it('hash with an inner space -> its line', () => failsAt(`1\nf 1\n${H.slice(0, 16)} ${H.slice(16)}\n0`, 3))

  it('duplicate owned name -> the second header', () => failsAt(`2\nf 1\n${H}\nf 1\n${H}\n0`, 4, /duplicate/))
  it('owned and wanted at once -> the wanted line', () => failsAt(`1\nf 1\n${H}\n1\nf`, 5, /both owned and wanted/))
  it('wanted twice -> the second wanted line', () => failsAt('0\n2\na\na', 4, /wanted twice/))

  it('owned name of 16 characters -> its header', () => failsAt(`1\n${'a'.repeat(16)} 1\n${H}\n0`, 2, /longer than 15/))
  it('wanted name of 16 characters -> its line', () => failsAt(`0\n2\nok\n${'a'.repeat(16)}`, 4, /longer than 15/))
  it('owned name with "/" -> its header', () => failsAt(`1\na/b 1\n${H}\n0`, 2, /path separator/))
  it('owned name with "\\" -> its header', () => failsAt(`1\na\\b 1\n${H}\n0`, 2, /path separator/))
  it('wanted name with "/" -> its line', () => failsAt('0\n1\n../x', 3, /path separator/))
  it('wanted name with "\\" -> its line', () => failsAt('0\n1\na\\b', 3, /path separator/))
  it('names "." and ".." -> their line', () => { failsAt('0\n1\n..', 3, /not allowed/); failsAt(`1\n. 1\n${H}\n0`, 2, /not allowed/) })

  it('header without a segment count -> its line', () => failsAt(`1\nf\n${H}\n0`, 2))
  it('header with three fields -> its line', () => failsAt(`1\nf 1 x\n${H}\n0`, 2))
  it('bad segment count -> its header', () => { failsAt(`1\nf x\n0`, 2, /bad segment count/); failsAt(`1\nf -1\n0`, 2) })
  it('blank header -> its line', () => failsAt('1\n\n0', 2))

  it('more than 10 owned files -> line 1', () => failsAt('11\n', 1, /limit of 10/))
  it('more than 10 wanted files -> the count line', () => failsAt(`1\nf 1\n${H}\n11\n`, 4, /limit of 10/))
  it('more than 100 segments -> the header', () => failsAt(`1\nf 101\n${H}\n`, 2, /limit of 100/))

  it('unexpected end of file in the hashes -> the first missing line', () => failsAt(`1\nf 3\n${H}\n${H}\n`, 5, /unexpected end of file: expected hash 3/))
  it('unexpected end of file in the owned headers -> the first missing line', () => failsAt(`2\nf 1\n${H}`, 4, /unexpected end of file/))
  it('unexpected end of file in the wanted names -> the first missing line', () => failsAt('0\n3\na\nb\n', 5, /expected wanted file 3/))

  it('trailing garbage -> its line', () => failsAt('0\n1\na\nxyz', 4, /unexpected content.*"xyz"/))
  it('trailing garbage after blank lines -> its line', () => failsAt('0\n0\n\n\nb\n', 5))
  it('garbage where the hashes end (one hash too many) -> its line', () => failsAt(`1\nf 1\n${H}\n${H}\n0`, 4))

  it('file name in the error is the one given', () => {
    assert.throws(() => parseClassicInput('x', 'some/dir/in7.txt'), (err: unknown) => err instanceof InputError && err.file === 'some/dir/in7.txt' && err.line === 1)
  })
})

describe('checkScenario', () => {
  const parse = (text: string, file: string): ClassicInput => parseClassicInput(text, file)

  it('a wanted file no one owns -> the wanting rank\'s file and line', () => {
    const inputs = [parse(`1\nf 1\n${H}\n0`, 'in1.txt'), parse('0\n2\nf\nghost', 'in2.txt')]
    assert.throws(() => checkScenario(inputs, ['in1.txt', 'in2.txt']), (err: unknown) => {
      assert.ok(err instanceof InputError)
      assert.deepEqual([err.file, err.line], ['in2.txt', 4])
      assert.match(err.message, /"ghost" is not owned by any peer/)
      return true
    })
  })

  it('a wanted file owned by a later rank is fine', () => {
    assert.doesNotThrow(() => checkScenario([parse('0\n1\nf', 'a'), parse(`1\nf 1\n${H}\n0`, 'b')], ['a', 'b']))
  })

  it('the same name with the same hashes in two ranks is fine', () => {
    const text = `1\nf 2\n${H}\n${h(1)}\n0`
    assert.doesNotThrow(() => checkScenario([parse(text, 'a'), parse(text, 'b')], ['a', 'b']))
  })

  it('the same name with different hashes in two ranks -> the later rank\'s file (line 1: the input keeps no header lines)', () => {
    const inputs = [parse(`1\nf 2\n${H}\n${h(1)}\n0`, 'in1.txt'), parse('0\n0', 'in2.txt'), parse(`1\nf 2\n${H}\n${h(2)}\n0`, 'in3.txt')]
    assert.throws(() => checkScenario(inputs, ['in1.txt', 'in2.txt', 'in3.txt']), (err: unknown) => {
      assert.ok(err instanceof InputError)
      assert.deepEqual([err.file, err.line], ['in3.txt', 1])
      assert.match(err.message, /"f" has different hashes/)
      return true
    })
  })

  it('a different segment count for the same name is a hash mismatch too', () => {
    const inputs = [parse(`1\nf 1\n${H}\n0`, 'a'), parse(`1\nf 2\n${H}\n${H}\n0`, 'b')]
    assert.throws(() => checkScenario(inputs, ['a', 'b']), (err: unknown) => err instanceof InputError && err.file === 'b')
  })
})
