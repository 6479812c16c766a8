/** The fluid lower bound on swarm distribution time (Kumar & Ross, 2006). PURE. */

/** Inputs of {@link fluidLowerBoundSeconds}; rates in bytes per second. */
export interface FluidInput {
  /** File size F in bytes. */
  fileBytes: number
  /** Upload rate of the seed, u_seed. */
  seedUploadBytesPerSec: number
  /** Upload rate of every downloading peer, u_peer. */
  peerUploadBytesPerSec: number
  /** Number of downloading peers N (the seed excluded). */
  peers: number
}

/**
 * T_min = max(F / u_seed, N·F / (u_seed + N·u_peer)): the seed must push every byte at least once,
 * and the N·F bytes to deliver cannot leave faster than the sum of all upload rates.
 * Download rates are taken as unlimited (loopback).
 */
export function fluidLowerBoundSeconds (o: FluidInput): number {
  const { fileBytes: f, seedUploadBytesPerSec: us, peerUploadBytesPerSec: up, peers: n } = o
  if (!(f >= 0) || !(us > 0) || !(up >= 0) || !Number.isInteger(n) || n < 1) throw new RangeError('fluid bound needs F >= 0, u_seed > 0, u_peer >= 0 and N >= 1')
  return Math.max(f / us, (n * f) / (us + n * up))
}

/** Efficiency T_min / T (1 = as fast as the fluid bound allows); null for a missing or non-positive T. */
export function swarmEfficiency (tMinSeconds: number, tSeconds: number | null): number | null {
  if (tSeconds === null || !Number.isFinite(tSeconds) || tSeconds <= 0) return null
  return tMinSeconds / tSeconds
}
