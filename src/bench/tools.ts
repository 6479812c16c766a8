/** External tools the benchmark compares against or needs, found on PATH or installed with apt-get. */
import { spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import path from 'node:path'

/** Tools found for this run; a missing one turns its column into "n/a" with a note. */
export interface Toolset {
  aria2c: string | null
  mktorrent: string | null
  mpirun: string | null
  curl: string | null
  sha256sum: string | null
  /** coreutils dd and sync: the disk bound, and aria2's copies synced to disk. */
  dd: string | null
  sync: string | null
  time: string | null
}

const APT_TIMEOUT_MS = 600_000

/** The full path of `name` on PATH, or null. */
export async function findOnPath (name: string): Promise<string | null> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue
    const p = path.join(dir, name)
    try { await access(p, constants.X_OK); return p } catch { /* next */ }
  }
  return null
}

/** Runs a command with inherited-nothing stdio and a deadline; resolves with its exit code (null on timeout). */
export async function runQuiet (cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null, output: string }> {
  return await new Promise(resolve => {
    let output = ''
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    child.stdout.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000) })
    child.stderr.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000) })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.once('error', (e) => { clearTimeout(timer); resolve({ code: null, output: String(e) }) })
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

async function findAll (): Promise<Toolset> {
  const [aria2c, mktorrent, mpirun, curl, sha256sum, dd, sync] = await Promise.all(['aria2c', 'mktorrent', 'mpirun', 'curl', 'sha256sum', 'dd', 'sync'].map(findOnPath))
  let time: string | null = null
  try { await access('/usr/bin/time', constants.X_OK); time = '/usr/bin/time' } catch { /* none */ }
  return { aria2c: aria2c ?? null, mktorrent: mktorrent ?? null, mpirun: mpirun ?? null, curl: curl ?? null, sha256sum: sha256sum ?? null, dd: dd ?? null, sync: sync ?? null, time }
}

/**
 * Finds the tools; installs aria2 and mktorrent (and GNU time) with apt-get when they are missing and
 * we are root. Problems are returned as notes for the report, never thrown.
 */
export async function prepareTools (log: (s: string) => void, o: { needAria2: boolean }): Promise<{ tools: Toolset, notes: string[] }> {
  const notes: string[] = []
  let tools = await findAll()
  const missing = [o.needAria2 && tools.aria2c === null ? 'aria2' : null, o.needAria2 && tools.mktorrent === null ? 'mktorrent' : null, o.needAria2 && tools.time === null ? 'time' : null].filter((x): x is string => x !== null)
  if (missing.length > 0) {
    const apt = await findOnPath('apt-get')
    if (apt === null || process.getuid?.() !== 0) {
      notes.push(`${missing.join(', ')} missing and cannot be installed here (needs apt-get as root)`)
    } else {
      log(`bench: installing ${missing.join(' ')} with apt-get`)
      const env = { DEBIAN_FRONTEND: 'noninteractive' }
      const up = await runQuiet(apt, ['update', '-qq'], APT_TIMEOUT_MS, env)
      const inst = up.code === 0 ? await runQuiet(apt, ['install', '-y', '-qq', ...missing], APT_TIMEOUT_MS, env) : up
      if (inst.code !== 0) notes.push(`apt-get could not install ${missing.join(', ')}: ${inst.output.trim().split('\n').slice(-2).join(' / ')}`)
      tools = await findAll()
    }
  }
  if (o.needAria2) {
    if (tools.aria2c === null || tools.mktorrent === null) notes.push('aria2 column skipped: aria2c or mktorrent is not available')
    if (tools.time === null) notes.push('CPU and peak RSS not measured: /usr/bin/time is not available')
    if (tools.sha256sum === null) notes.push('hash bound skipped: sha256sum not found')
    if (tools.dd === null) notes.push('disk bound skipped: dd not found')
    if (tools.sync === null) notes.push('aria2 until on disk not measured: sync not found')
  }
  return { tools, notes }
}
