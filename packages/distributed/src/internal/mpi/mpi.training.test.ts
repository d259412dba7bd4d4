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

describe.skipIf(!mpi)('Adam on 2 MPI ranks: resume and restarts are exact', () => {
  const readAny = (dir: string, rank: number) => JSON.parse(readFileSync(join(dir, `rank-${rank}.json`), 'utf8')) as Record<string, unknown>;

  it('fit → checkpoint → resume equals uninterrupted bitwise (same-shape model, names sorting unlike their order)', async () => {
    const dir = join(out, 'split');
    const result = await launchMpi('./resume-worker.ts', 2, { env: { FITSTREAM_TEST_OUT: dir, MODE: 'split', OPT: 'adam', MODEL: 'same', CKPT: join(out, 'split-ckpt'), N: '40', BATCH: '4', EPOCHS: '4', SPLIT: '2' }, timeoutMs: 30_000 });
    expect(result.exitCode).toBe(0);
    const [r0, r1] = [readAny(dir, 0), readAny(dir, 1)];
    expect(r0.resumed).toEqual(r0.full);
    expect(r1.resumed).toEqual(r0.full);
  });

  it('a rank killed at a seeded random step: launch restarts the job once and every rank resumes from rank 0’s backup, bitwise', async () => {
    const base = { MODE: 'backup', OPT: 'adam', MODEL: 'same', N: '40', BATCH: '4', EPOCHS: '4', EVERY: '3' };
    const cleanDir = join(out, 'backup-clean');
    const clean = await launchMpi('./resume-worker.ts', 2, { env: { ...base, FITSTREAM_TEST_OUT: cleanDir, BACKUP: join(out, 'bc', 'backup') }, timeoutMs: 30_000 });
    expect(clean.exitCode).toBe(0);
    const step = 4 + ((Math.imul(7 ^ 0x9e3779b9, 0x85ebca6b) >>> 0) % 14);
    const dir = join(out, 'backup-killed');
    const root = join(out, 'bk');
    const started = Date.now();
    const result = await launchMpi('./resume-worker.ts', 2, { env: { ...base, FITSTREAM_TEST_OUT: dir, BACKUP: join(root, 'backup'), FAIL: `kill:1:${step}` }, timeoutMs: 30_000, maxRestarts: 1 });
    expect(result.ok).toBe(true);
    expect(result.restarts).toBe(1);
    const [r0, r1] = [readAny(dir, 0), readAny(dir, 1)];
    expect(r0.restartCount).toBe(1);
    expect(r0.resumedFrom).toMatch(/backup$/);
    expect(r0.weights).toEqual(readAny(cleanDir, 0).weights);
    expect(r1.weights).toEqual(r0.weights);
    const attemptEnd = started + result.attempts[0]!.durationMs;
    const faultAt = Number(readFileSync(join(root, 'fault-at-1'), 'utf8'));
    const firstStep = Math.min(Number(r0.firstStepAt), Number(r1.firstStepAt));
    console.info(`[MPI kill at step ${step}] job ended ${(attemptEnd - faultAt).toFixed(0)} ms after the kill; restarted and resumed to the first step in ${(firstStep - attemptEnd).toFixed(0)} ms`);
    expect(attemptEnd - faultAt).toBeLessThan(10_000);
  }, 120_000);
});
