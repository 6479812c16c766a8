/** Rank, size and job of this process as a launcher (mpirun, srun, dfss run) describes them. */
export interface LaunchInfo { rank: number, size: number, jobId: string | null, launcher: string }

type Env = Record<string, string | undefined>

function int (v: string | undefined): number | null {
  if (v === undefined || !/^[0-9]+$/.test(v)) return null
  return Number(v)
}

/**
 * Reads rank and size from the environment: DFSS_RANK/DFSS_SIZE (dfss run), Open MPI
 * (OMPI_COMM_WORLD_*), PMIx (PMIX_RANK + OMPI/PMI size), MPICH/Hydra PMI (PMI_RANK/PMI_SIZE),
 * Slurm (SLURM_PROCID/SLURM_NTASKS). Returns null when none is present. Pure.
 */
export function readLaunchEnv (env: Env): LaunchInfo | null {
  const tries: Array<[string, string | undefined, string | undefined, string | undefined]> = [
    ['dfss', env['DFSS_RANK'], env['DFSS_SIZE'], env['DFSS_JOB']],
    ['openmpi', env['OMPI_COMM_WORLD_RANK'], env['OMPI_COMM_WORLD_SIZE'], env['OMPI_MCA_ess_base_jobid'] ?? env['PMIX_NAMESPACE']],
    ['pmix', env['PMIX_RANK'], env['PMIX_SIZE'] ?? env['OMPI_COMM_WORLD_SIZE'] ?? env['PMI_SIZE'], env['PMIX_NAMESPACE']],
    ['mpich', env['PMI_RANK'], env['PMI_SIZE'], env['PMI_KVSNAME'] ?? env['PMI_JOBID']],
    ['slurm', env['SLURM_PROCID'], env['SLURM_NTASKS'] ?? env['SLURM_NPROCS'], env['SLURM_JOB_ID'] !== undefined ? `${env['SLURM_JOB_ID']}.${env['SLURM_STEP_ID'] ?? '0'}` : undefined]
  ]
  for (const [launcher, r, s, job] of tries) {
    const rank = int(r)
    const size = int(s)
    if (rank === null || size === null) continue
    if (size < 1 || rank >= size) continue
    return { rank, size, jobId: job !== undefined && job !== '' ? job.replace(/[^A-Za-z0-9._-]/g, '_') : null, launcher }
  }
  return null
}
