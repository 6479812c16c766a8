/**
 * Variables that only slow down the start of a Node process and that DFSS never needs: it opens no
 * TLS connection, so extra CA certificates are parsed for nothing (about 80 ms per process where
 * NODE_EXTRA_CA_CERTS names the system bundle, as on our test machines).
 */
export const UNUSED_STARTUP_VARS: readonly string[] = ['NODE_EXTRA_CA_CERTS']

/** A copy of `env` for a DFSS child process, without {@link UNUSED_STARTUP_VARS}. */
export function childEnv (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env }
  for (const v of UNUSED_STARTUP_VARS) delete out[v]
  return out
}
