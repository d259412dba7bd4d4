import { describe, expect, it } from 'vitest';
import { createThreadGroup, failThreadGroup, threadGroupFailure } from '../comm/thread-group.js';
import { rootEnvironment } from './launch.js';

describe('launch: Open MPI as root', () => {
  it('sets the documented allow-run-as-root variables for root, nothing otherwise', () => {
    expect(rootEnvironment('openmpi', { uid: 0, env: {} })).toEqual({ OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
    expect(rootEnvironment('openmpi', { uid: 0, env: { OMPI_ALLOW_RUN_AS_ROOT: '1' } })).toEqual({ OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' });
    expect(rootEnvironment('openmpi', { uid: 0, env: {}, args: ['--allow-run-as-root'] })).toEqual({});
    expect(rootEnvironment('openmpi', { uid: 1000, env: {} })).toEqual({});
    expect(rootEnvironment('mpich', { uid: 0, env: {} })).toEqual({});
  });
  it('refuses clearly with allowRunAsRoot: false', () => {
    expect(() => rootEnvironment('openmpi', { uid: 0, env: {}, allowRunAsRoot: false })).toThrow(/runs as root, and Open MPI's mpirun refuses root unless OMPI_ALLOW_RUN_AS_ROOT=1/);
  });
});

describe('thread groups record every lost rank', () => {
  it('a timeout names all the missing ranks', () => {
    const group = createThreadGroup(4, { bufferBytes: 4096 });
    failThreadGroup(group, 'timeout', 1, 'no answer', [1, 3]);
    expect(threadGroupFailure(group)).toMatchObject({ reason: 'timeout', rank: 1, lost: [1, 3] });
  });
});
