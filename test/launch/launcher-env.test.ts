import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readLaunchEnv } from '../../src/launch/launcher-env.ts'
import { buildStats, formatSummary } from '../../src/launch/stats.ts'

describe('readLaunchEnv', () => {
  it('reads Open MPI', () => {
    assert.deepEqual(readLaunchEnv({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_MCA_ess_base_jobid: '1711996929' }),
      { rank: 2, size: 4, jobId: '1711996929', launcher: 'openmpi' })
  })
  it('reads PMIx with the size from Open MPI or PMI', () => {
    assert.deepEqual(readLaunchEnv({ PMIX_RANK: '1', PMI_SIZE: '3', PMIX_NAMESPACE: 'ns/1' }), { rank: 1, size: 3, jobId: 'ns_1', launcher: 'pmix' })
  })
  it('reads MPICH / Hydra PMI', () => {
    assert.deepEqual(readLaunchEnv({ PMI_RANK: '0', PMI_SIZE: '5', PMI_KVSNAME: 'kvs_42_0' }), { rank: 0, size: 5, jobId: 'kvs_42_0', launcher: 'mpich' })
  })
  it('reads Slurm, with job and step in the job id', () => {
    assert.deepEqual(readLaunchEnv({ SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_JOB_ID: '77', SLURM_STEP_ID: '2' }), { rank: 3, size: 8, jobId: '77.2', launcher: 'slurm' })
  })
  it('prefers dfss run over an enclosing launcher', () => {
    assert.equal(readLaunchEnv({ DFSS_RANK: '1', DFSS_SIZE: '2', OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '9' })?.launcher, 'dfss')
  })
  it('ignores garbage and ranks outside the size', () => {
    assert.equal(readLaunchEnv({}), null)
    assert.equal(readLaunchEnv({ OMPI_COMM_WORLD_RANK: 'x', OMPI_COMM_WORLD_SIZE: '4' }), null)
    assert.equal(readLaunchEnv({ OMPI_COMM_WORLD_RANK: '4', OMPI_COMM_WORLD_SIZE: '4' }), null)
    assert.equal(readLaunchEnv({ PMI_RANK: '-1', PMI_SIZE: '4' }), null)
  })
})

describe('run stats', () => {
  it('lists every rank, drops empty transfers and sorts', () => {
    const stats = buildStats(4, 123.4, new Map([[2, 5], [1, 3], [3, 0]]), [
      { to: 3, from: 2, file: 'b', segments: 5 },
      { to: 3, from: 1, file: 'a', segments: 3 },
      { to: 2, from: 1, file: 'a', segments: 0 }
    ])
    assert.deepEqual(stats, {
      ranks: 4,
      elapsedMs: 123,
      uploads: { 1: 3, 2: 5, 3: 0 },
      transfers: [{ to: 3, from: 1, file: 'a', segments: 3 }, { to: 3, from: 2, file: 'b', segments: 5 }]
    })
    assert.match(formatSummary(stats), /rank 3 got b \(5 segments\): 5 from rank 2/)
  })
})
