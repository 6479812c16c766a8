import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cp, mkdtemp, readdir } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const BIN = path.join(ROOT, 'bin', 'dfss.js')
export const FIXTURES = path.join(ROOT, 'test', 'fixtures')

export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs a command to completion, killing it after `timeoutMs` (every wait is bounded). */
export async function runCommand (cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
    child.once('error', reject)
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

/** Runs `dfss ...args`. */
export async function runDfss (args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<CliResult> {
  return await runCommand(process.execPath, [BIN, ...args], opts)
}

/** A fresh temp directory holding a copy of fixture `testN`. */
export async function copyFixture (name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dfss-${name}-`))
  await cp(path.join(FIXTURES, name), dir, { recursive: true })
  return dir
}

/** Number of ranks of a fixture directory: its inR.txt files plus the tracker. */
export async function ranksOf (dir: string): Promise<number> {
  return (await readdir(dir)).filter(f => /^in[0-9]+\.txt$/.test(f)).length + 1
}

/**
 * A tracker address where nothing listens: a port of 127.0.0.1 that was free a moment ago, on
 * 127.0.0.2 (loopback too). The processes under test listen on 127.0.0.1 only, so none of them can
 * take it; on 127.0.0.1 itself a peer's own uploader was once given that very port and the peer
 * registered with itself.
 */
export async function refusingAddress (): Promise<string> {
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as net.AddressInfo).port
  await new Promise(resolve => probe.close(resolve))
  return `127.0.0.2:${port}`
}
