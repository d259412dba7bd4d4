import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { LocalCommunicator, contextFor, dataParallel, hasMpirun } from '../../index.js';
import { launchMpi } from '../../test-support/launch-helpers.js';
import { buildModel, flatWeights, makeData, makeTrainer, maxRelativeDifference } from '../../test-support/train-fixture.js';

const mpi = hasMpirun();
// CI installs Open MPI (.ci/run): there a missing mpirun is a failure, not a skip.
if (!mpi && process.env.CI === 'true') throw new Error('CI=true but mpirun is missing: .ci/run installs openmpi-bin and libopenmpi-dev before the tests.');
if (!mpi) console.warn('MPI training tests skipped: mpirun is not on the PATH (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; CI installs it).');
const out = mkdtempSync(join(tmpdir(), 'fitstream-mpi-train-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const read = (dir: string, rank: number) => JSON.parse(readFileSync(join(dir, `rank-${rank}.json`), 'utf8')) as { weights: number[]; step: number };

describe.skipIf(!mpi)('dataParallel on MPI processes (mpirun on loopback)', () => {
  it('2 processes × batch 4 equal one replica × batch 8 after 20 SGD steps, identical on both ranks', async () => {
    await tf.setBackend('cpu');
    const model = buildModel(42);
    await makeTrainer(model).use(dataParallel(contextFor(new LocalCommunicator()), { log: null })).fit(makeData(40), { epochs: 4, batchSize: 8, handleSignals: false });
    const dir = join(out, 'equivalence');
    const result = await launchMpi('./train-worker.ts', 2, { env: { FITSTREAM_TEST_OUT: dir, ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', DIFFERENT_INIT: '1' }, timeoutMs: 60_000 });
    expect(result.exitCode).toBe(0);
    const [r0, r1] = [read(dir, 0), read(dir, 1)];
    expect(r0.step).toBe(20);
    expect(r1.weights).toEqual(r0.weights);
    expect(maxRelativeDifference(r0.weights, flatWeights(model))).toBeLessThan(1e-5);
  });

  it('a hung rank: the others print PeerLostError within the timeout and the job is aborted, not left hanging', async () => {
    const started = performance.now();
    const result = await launchMpi('./train-worker.ts', 2, { env: { FITSTREAM_TEST_OUT: join(out, 'hang'), ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', FAIL: 'hang:1:5' }, timeoutMs: 2000 });
    expect(result.exitCode).not.toBe(0);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('a killed rank ends the job promptly (mpirun aborts the survivors)', async () => {
    const started = performance.now();
    const result = await launchMpi('./train-worker.ts', 2, { env: { FITSTREAM_TEST_OUT: join(out, 'kill'), ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', FAIL: 'kill:1:5' }, timeoutMs: 60_000 });
    expect(result.exitCode).not.toBe(0);
    expect(result.attempts[0]!.failures[0]!.error).toMatch(/mpirun exited with code/);
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});
