import { describe, expect, it } from 'vitest';
import { MpiCommunicator, MpiUnavailableError, init } from '../../index.js';

describe('MPI is loaded lazily, and its absence is a clear error', () => {
  it('a missing MPI library names the fix', async () => {
    const error = await MpiCommunicator.create({ library: 'libfitstream-no-such-mpi.so.40' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MpiUnavailableError);
    expect((error as Error).message).toMatch(/Could not load the MPI library "libfitstream-no-such-mpi\.so\.40".*apt-get install openmpi-bin libopenmpi-dev/s);
  });

  it('outside any launcher, init() is a world of one and never touches MPI', async () => {
    const ctx = await init({ env: {} });
    expect([ctx.backend, ctx.rank, ctx.worldSize, ctx.isMain]).toEqual(['local', 0, 1, true]);
    expect(Array.from(ctx.comm.allreduce(Float32Array.of(1, 2), 'avg'))).toEqual([1, 2]);
  });

  it('a world announced without an engine is refused with the way out', async () => {
    await expect(init({ env: { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'x' } })).rejects.toThrow(/no engine joins it: start the replicas with an MPI launcher/);
  });
});
