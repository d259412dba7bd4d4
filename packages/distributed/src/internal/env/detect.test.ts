import { describe, expect, it } from 'vitest';
import { detectEnvironment, deviceForLocalRank, firstSlurmHost, launchDefaults } from './detect.js';

describe('detectEnvironment: rank and world from launchers and schedulers (faked environments)', () => {
  it('fitstream launch / torchrun', () => {
    const env = detectEnvironment({ RANK: '5', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '4', GROUP_RANK: '1', NNODES: '2', MASTER_ADDR: 'n0', MASTER_PORT: '29500', FITSTREAM_RUN_ID: 'x', FITSTREAM_RESTART_COUNT: '2', FITSTREAM_BACKEND: 'mpi' });
    expect(env).toMatchObject({ source: 'fitstream', rank: 5, worldSize: 8, localRank: 1, localWorldSize: 4, nodeRank: 1, nnodes: 2, masterAddr: 'n0', masterPort: 29500, restartCount: 2, backend: 'mpi' });
    expect(detectEnvironment({ RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', TORCHELASTIC_RESTART_COUNT: '1' })).toMatchObject({ source: 'torchrun', restartCount: 1 });
  });
  it('Kubeflow PyTorchJob and Trainer v2', () => {
    expect(detectEnvironment({ RANK: '2', WORLD_SIZE: '4', MASTER_ADDR: 'job-master-0', MASTER_PORT: '23456' })).toMatchObject({ source: 'kubeflow', rank: 2, worldSize: 4, localRank: 0, nodeRank: 2, masterPort: 23456 });
    expect(detectEnvironment({ PET_NNODES: '3', PET_NODE_RANK: '2', PET_NPROC_PER_NODE: '2', PET_MASTER_ADDR: 'job-node-0-0.job', PET_MASTER_PORT: '29500' })).toMatchObject({ source: 'kubeflow-trainer', rank: 4, worldSize: 6, nodeRank: 2, nnodes: 3, masterAddr: 'job-node-0-0.job' });
  });
  it('Open MPI, MPICH, Slurm', () => {
    expect(detectEnvironment({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' })).toMatchObject({ source: 'openmpi', rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, nodeRank: 1, nnodes: 2 });
    expect(detectEnvironment({ PMI_RANK: '1', PMI_SIZE: '2', MPI_LOCALRANKID: '1', MPI_LOCALNRANKS: '2' })).toMatchObject({ source: 'mpich', rank: 1, worldSize: 2, localRank: 1 });
    expect(detectEnvironment({ SLURM_PROCID: '7', SLURM_NTASKS: '8', SLURM_LOCALID: '3', SLURM_NODEID: '1', SLURM_NNODES: '2', SLURM_JOB_NODELIST: 'gpu[07-08]' })).toMatchObject({ source: 'slurm', rank: 7, worldSize: 8, localRank: 3, localWorldSize: 4, nodeRank: 1, nnodes: 2, masterAddr: 'gpu07' });
    expect(firstSlurmHost('a,b')).toBe('a');
  });
  it('TF_CONFIG, Indexed Job, and nothing', () => {
    const tfConfig = JSON.stringify({ cluster: { chief: ['c:2222'], worker: ['w0:2222', 'w1:2222'] }, task: { type: 'worker', index: 1 } });
    expect(detectEnvironment({ TF_CONFIG: tfConfig })).toMatchObject({ source: 'tf-config', rank: 2, worldSize: 3, masterAddr: 'c', masterPort: 2222 });
    expect(detectEnvironment({ JOB_COMPLETION_INDEX: '3', WORLD_SIZE: '4' })).toMatchObject({ source: 'indexed-job', rank: 3, worldSize: 4 });
    expect(detectEnvironment({})).toMatchObject({ source: 'none', rank: 0, worldSize: 1, restartCount: 0, backend: undefined });
  });
  it('launcher defaults from FITSTREAM_* then PET_*, and one GPU per local rank', () => {
    expect(launchDefaults({ PET_NNODES: '2', FITSTREAM_NNODES: '3', PET_NPROC_PER_NODE: '4', PET_NODE_RANK: '1', PET_MAX_RESTARTS: '3', MASTER_ADDR: 'm', MASTER_PORT: '1234' })).toEqual({ nnodes: 3, nprocPerNode: 4, nodeRank: 1, maxRestarts: 3, masterAddr: 'm', masterPort: 1234 });
    expect([0, 1, 2].map((l) => deviceForLocalRank(l, ['0', '1']))).toEqual(['0', '1', '0']);
    expect(deviceForLocalRank(0, [])).toBeUndefined();
  });
});
