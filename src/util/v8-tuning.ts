import { setFlagsFromString } from 'node:v8'
import { createHash } from './crypto.ts'

/**
 * V8's interrupt budget for a process that moves data: ten times V8's default (67,584 bytes of
 * bytecode run between two checks for optimising a function). A transfer runs the same few functions
 * for every segment (framing, scheduling, verification), which stay hot and are optimised anyway; with
 * the default, V8 also optimises dozens of functions that ran a few times at the start, and in a
 * one-second to minute-long `dfss get` that compiler work took 9% of a getter's CPU (perf, 1 GiB to
 * three getters, 2026-12-04). Measured with scripts/perf/swarm-run.sh 3 on 1 GiB, 4 pairs of runs:
 * the getters' CPU fell from 5.82-5.90 s to 5.42-5.63 s and the transfer from 3.75-3.81 s to
 * 3.51-3.64 s; 4x and 30x did no better.
 */
export const TRANSFER_INTERRUPT_BUDGET = 675_840

let applied = false

/**
 * Sets {@link TRANSFER_INTERRUPT_BUDGET} for the rest of the process, once. Called by the `dfss`
 * commands after their start-up work (a share's hashing threads, which would otherwise compile Node's
 * built-in modules from source: their code caches hold only under the flags they were made with, and
 * each thread started after the change cost 10 ms more CPU; `get` sets it at once, so only the
 * threads of a resume check pay that). For the same reason node:crypto, which every transfer uses, is
 * loaded first.
 */
export function tuneV8ForTransfers (): void {
  if (applied) return
  applied = true
  createHash('sha256')
  setFlagsFromString(`--interrupt-budget=${TRANSFER_INTERRUPT_BUDGET}`)
}
