import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox } from './test-support/cli.js';

const REPLICA = fileURLToPath(new URL('./test-support/launch-replica.mjs', import.meta.url));
const sandbox = new CliSandbox();
beforeAll(() => sandbox.create());
afterAll(() => sandbox.remove());

describe('fitstream launch', () => {
  it('runs 2 data-parallel thread replicas of a script and reports them in one JSON summary', async () => {
    const run = await sandbox.run('launch', '--nproc-per-node', '2', '--backend', 'threads', '--json', REPLICA);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim()) as { ok: boolean; worldSize: number; backend: string; restarts: number; exitCode: number };
    expect(summary).toMatchObject({ ok: true, worldSize: 2, backend: 'threads', restarts: 0, exitCode: 0 });
  }, 120_000);

  it('fails with the replica’s error and a non-zero exit code when the script is missing', async () => {
    const run = await sandbox.run('launch', '--nproc-per-node', '2', '--json', 'no-such-script.mjs');
    expect(run.code).not.toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ ok: false });
  }, 60_000);

  it('refuses a bad --nproc-per-node with exit code 2', async () => {
    const run = await sandbox.run('launch', '--nproc-per-node', '0', REPLICA);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--nproc-per-node must be a whole number ≥ 1/);
  });
});

describe('fitstream launch --mpi-args', () => {
  it('splits the mpirun arguments like a shell (quotes group words)', async () => {
    const { splitArgs } = await import('./commands/launch.js');
    expect(splitArgs(`--oversubscribe --mca btl self,tcp -x "A B" 'c d'`)).toEqual(['--oversubscribe', '--mca', 'btl', 'self,tcp', '-x', 'A B', 'c d']);
  });
});
