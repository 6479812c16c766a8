/** Limits of the assignment's input format. */
export const CLASSIC_LIMITS = { maxFiles: 10, maxSegments: 100, maxNameChars: 15, hashChars: 32 } as const

/** One owned file of an `inR.txt`. */
export interface ClassicOwnedFile { name: string, hashes: string[] }
/** A parsed `inR.txt`. */
export interface ClassicInput { owned: ClassicOwnedFile[], wants: string[], wantLines: number[] }

/** A malformed input file: names the file and the 1-based line. */
export class InputError extends Error {
  override name = 'InputError'
  readonly file: string
  readonly line: number
  constructor (file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`)
    this.file = file
    this.line = line
  }
}

const HASH_RE = /^[0-9a-fA-F]{32}$/
const COUNT_RE = /^(0|[1-9][0-9]*)$/

function checkName (file: string, line: number, name: string): void {
  if (name.length === 0) throw new InputError(file, line, 'missing file name')
  if (name.length > CLASSIC_LIMITS.maxNameChars) throw new InputError(file, line, `file name "${name}" is longer than ${CLASSIC_LIMITS.maxNameChars} characters`)
  if (name.includes('/') || name.includes('\\')) throw new InputError(file, line, `file name "${name}" contains a path separator`)
  if (name === '.' || name === '..' || name.includes('\0')) throw new InputError(file, line, `file name "${name}" is not allowed`)
}

/**
 * Parses the classic `inR.txt` format (see test/fixtures/README.md). `file` is only used in messages.
 * Throws InputError with file and line on anything malformed.
 */
export function parseClassicInput (text: string, file: string): ClassicInput {
  const lines = text.split(/\r?\n/)
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  let at = 0
  const next = (what: string): string => {
    if (at >= lines.length) throw new InputError(file, at + 1, `unexpected end of file: expected ${what}`)
    return (lines[at++] as string).trim()
  }
  const count = (what: string, max: number): number => {
    const raw = next(what)
    if (!COUNT_RE.test(raw)) throw new InputError(file, at, `expected ${what}, got "${raw}"`)
    const n = Number(raw)
    if (n > max) throw new InputError(file, at, `${what} is ${n}, more than the limit of ${max}`)
    return n
  }

  const owned: ClassicOwnedFile[] = []
  const names = new Set<string>()
  const nOwned = count('the number of owned files', CLASSIC_LIMITS.maxFiles)
  for (let f = 0; f < nOwned; f++) {
    const header = next(`owned file ${f + 1}: "<name> <number of segments>"`)
    const parts = header.split(/\s+/)
    if (parts.length !== 2) throw new InputError(file, at, `expected "<name> <number of segments>", got "${header}"`)
    const [name, rawCount] = parts as [string, string]
    checkName(file, at, name)
    if (names.has(name)) throw new InputError(file, at, `duplicate file name "${name}"`)
    names.add(name)
    if (!COUNT_RE.test(rawCount)) throw new InputError(file, at, `bad segment count "${rawCount}" for "${name}"`)
    const nSeg = Number(rawCount)
    if (nSeg > CLASSIC_LIMITS.maxSegments) throw new InputError(file, at, `"${name}" has ${nSeg} segments, more than the limit of ${CLASSIC_LIMITS.maxSegments}`)
    const hashes: string[] = []
    for (let s = 0; s < nSeg; s++) {
      const h = next(`hash ${s + 1} of "${name}"`)
      if (!HASH_RE.test(h)) throw new InputError(file, at, `hash ${s + 1} of "${name}" is not 32 hexadecimal characters: "${h}"`)
      hashes.push(h)
    }
    owned.push({ name, hashes })
  }

  const nWanted = count('the number of wanted files', CLASSIC_LIMITS.maxFiles)
  const wants: string[] = []
  const wantLines: number[] = []
  for (let w = 0; w < nWanted; w++) {
    const name = next(`wanted file ${w + 1}`)
    checkName(file, at, name)
    if (names.has(name)) throw new InputError(file, at, `"${name}" is both owned and wanted`)
    if (wants.includes(name)) throw new InputError(file, at, `"${name}" is wanted twice`)
    wants.push(name)
    wantLines.push(at)
  }
  while (at < lines.length) {
    if ((lines[at] as string).trim() !== '') throw new InputError(file, at + 1, `unexpected content after the wanted files: "${(lines[at] as string).trim()}"`)
    at++
  }
  return { owned, wants, wantLines }
}

/**
 * Checks a whole classic scenario before anything starts: every wanted file must be owned by some rank.
 * `inputs[i]` is rank i+1's parsed input, `files[i]` its file name.
 */
export function checkScenario (inputs: ClassicInput[], files: string[]): void {
  const owners = new Map<string, string>()
  for (const input of inputs) for (const o of input.owned) owners.set(o.name, owners.get(o.name) ?? o.hashes.join())
  inputs.forEach((input, i) => {
    for (const o of input.owned) {
      if (owners.get(o.name) !== o.hashes.join()) {
        throw new InputError(files[i] as string, 1, `"${o.name}" has different hashes than in another rank's input`)
      }
    }
    input.wants.forEach((w, k) => {
      if (!owners.has(w)) throw new InputError(files[i] as string, input.wantLines[k] as number, `wanted file "${w}" is not owned by any peer`)
    })
  })
}
