/**
 * Why a file name received from anywhere (input file, registration, swarm answer) is unsafe to use
 * under an output directory, or null when it is fine. Names are relative, '/'-separated paths.
 */
export function unsafeNameReason (name: string): string | null {
  if (name.length === 0) return 'empty'
  if (name.includes('\0')) return 'contains NUL'
  if (name.includes('\\')) return 'contains a backslash'
  if (name.startsWith('/')) return 'absolute path'
  if (/^[A-Za-z]:/.test(name)) return 'drive-letter path'
  if (name.split('/').some(p => p === '..' || p === '.' || p === '')) return 'contains an empty, "." or ".." path segment'
  return null
}
