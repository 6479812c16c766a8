/** The shape of a benchmark's results (written as JSON under bench/results/). Types only. */
import type { SwarmPhases } from './phases.ts'

/** The machine a benchmark ran on; `loadAtStart` is the 1, 5 and 15 minute load average when it began (other work skews timings). */
export interface MachineInfo { cpu: string, cores: number, memoryGiB: number, node: string, os: string, loadAtStart: number[] }

/** One run of one system (DFSS, aria2, HTTP, a bound) in one scenario. */
export interface SystemRun {
  ok: boolean
  /** Why the run failed, when it did. */
  error?: string
  /** Wall time in seconds until the last downloader had the whole file. */
  wallS: number | null
  /** Sum of user+sys CPU seconds of every process of the system during the transfer. */
  cpuS: number | null
  /** Bytes delivered to downloaders (downloaders × file size). */
  bytes: number
  /** Peak resident memory (KiB) by role: the highest among processes with that role. */
  peakRssKiB: Record<string, number>
  /** Fraction of all uploaded bytes that the seed sent (scale scenario). */
  seedShare?: number | null
  /**
   * Seconds the seed's file took to prepare before anything could be served, not part of wallS: from
   * starting the process until DFSS `share` prints that it hashed the file, or mktorrent exits.
   */
  prepS?: number | null
  /** DFSS only: start-up, the seed's pass and the tail of the run, from the getters' events (see phases.ts). */
  phases?: SwarmPhases | null
  /**
   * aria2 only: seconds until every downloader's copy was on disk, like DFSS's (wallS, then `sync` of
   * the downloaded files); null when not measured.
   */
  durableS?: number | null
  /** DFSS only: seconds from the last getter having its file (wallS) until the last getter process exited. */
  exitS?: number | null
}

/** Classic scenario: one fixture or the flash crowd. */
export interface ClassicCase {
  name: string
  ranks: number
  dfss: Array<number | null>
  floor: Array<number | null>
  /** The same floor with NODE_EXTRA_CA_CERTS unset (what `dfss` itself does for its processes). */
  floorNoCa: Array<number | null>
  mpirun: Array<number | null> | null
  mpirunFloor: Array<number | null> | null
  errors: string[]
}

/** Raw, swarm or scale: the same swarm set-up measured with several systems in each run. */
export interface SwarmCase {
  /** e.g. "raw", "swarm N=7", "scale". */
  name: string
  fileBytes: number
  downloaders: number
  /** Upload cap per process in bytes/s, or null. */
  uploadLimit: number | null
  /** Fluid lower bound in seconds (capped scenarios). */
  fluidBoundS: number | null
  /** System name -> one entry per run. */
  systems: Record<string, SystemRun[]>
}

/** Everything one `dfss bench` produced. */
export interface BenchResults {
  date: string
  command: string
  machine: MachineInfo
  quick: boolean
  runs: number
  notes: string[]
  classic: ClassicCase[] | null
  raw: SwarmCase | null
  swarm: SwarmCase[] | null
  scale: SwarmCase | null
}
