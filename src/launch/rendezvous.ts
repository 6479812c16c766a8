import { watch } from 'node:fs'
import { readFile, unlink } from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from '../util/atomic-write.ts'

/** The file in a rendezvous directory where rank 0 publishes the tracker's address. */
export function rendezvousFile (dir: string, jobId: string | null): string {
  return path.join(dir, `.dfss-tracker${jobId !== null ? `-${jobId}` : ''}.addr`)
}

/** Rank 0: publishes `host:port` atomically. */
export async function publishTracker (file: string, host: string, port: number): Promise<void> {
  await writeFileAtomic(file, `${host} ${port} ${process.pid}\n`)
}

/** Rank 0 at the end: removes the published address. */
export async function withdrawTracker (file: string): Promise<void> {
  await unlink(file).catch(() => {})
}

function parse (text: string): { host: string, port: number } | null {
  const m = /^(\S+) ([0-9]{1,5}) [0-9]+\n$/.exec(text)
  if (m === null) return null
  return { host: m[1] as string, port: Number(m[2]) }
}

/**
 * Peers: waits for rank 0's address to appear, watching the directory (with a slow re-check in case
 * the file system does not deliver events). Rejects after `timeoutMs`.
 */
export async function awaitTracker (file: string, timeoutMs: number, signal?: AbortSignal): Promise<{ host: string, port: number }> {
  const read = async (): Promise<{ host: string, port: number } | null> => {
    try { return parse(await readFile(file, 'utf8')) } catch { return null }
  }
  const first = await read()
  if (first !== null) return first
  return await new Promise((resolve, reject) => {
    let settled = false
    const finish = (err: Error | null, v?: { host: string, port: number }): void => {
      if (settled) return
      settled = true
      watcher.close()
      clearInterval(recheck)
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err !== null) reject(err); else resolve(v as { host: string, port: number })
    }
    const check = (): void => { read().then(v => { if (v !== null) finish(null, v) }, () => {}) }
    const watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(file)) check()
    })
    watcher.on('error', () => {})
    const recheck = setInterval(check, 100)
    const timer = setTimeout(() => finish(new Error(`no tracker address appeared in ${file} within ${timeoutMs} ms (is rank 0 running in the same rendezvous directory?)`)), timeoutMs)
    const onAbort = (): void => finish(new Error('aborted'))
    signal?.addEventListener('abort', onAbort, { once: true })
    check()
  })
}
