import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { launchThreads } from '../../test-support/launch-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface SplitReport {
  rank: number;
  full: number[][];
  resumed: number[][];
  step: number;
  names: string[];
}
interface BackupReport {
  rank: number;
  restartCount: number;
  resumedFrom: string | null;
  step: number;
  weights: number[][];
  startedAt: number;
  firstStepAt: number | null;
}

let case_ = 0;
async function split(env: Record<string, string>): Promise<SplitReport[]> {
  const result = await launchThreads('./resume-worker.ts', 2, { env: { MODE: 'split', CKPT: join(dir, `split-${case_++}`), N: '40', BATCH: '4', EPOCHS: '4', SPLIT: '2', ...env }, timeoutMs: 20_000 });
  expect(result.attempts[0]!.failures).toEqual([]);
  return result.results as SplitReport[];
}

describe('dataParallel on 2 thread replicas: fit → checkpoint → resume equals uninterrupted, bitwise, with optimizer slots', () => {
  it.each([
    ['adam', 'same'],
    ['adam', 'mlp'],
    ['momentum', 'same'],
    ['rmsprop', 'same'],
  ])('%s, model %s', async (opt, model) => {
    const [r0, r1] = await split({ OPT: opt, MODEL: model });
    if (model === 'same') expect(r0!.names.map((n) => n.replace(/_\d+$/, ''))).toEqual(['zeta/kernel', 'eta/kernel', 'alpha/kernel']); // sorted: alpha, eta, zeta
    expect(r0!.step).toBe(20);
    expect(r0!.resumed).toEqual(r0!.full);
    expect(r1!.resumed).toEqual(r0!.full);
  });

  it('property: random layer names and shapes, random optimizer (seeded)', async () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
    const layers = fc.uniqueArray(fc.record({ name, units: fc.integer({ min: 1, max: 5 }), bias: fc.boolean() }), { minLength: 1, maxLength: 4, selector: (l) => l.name });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), layers, fc.constantFrom('adam', 'rmsprop', 'momentum', 'adagrad'), async (input, ls, opt) => {
        const [r0, r1] = await split({ OPT: opt, MODEL: JSON.stringify({ input, layers: ls }), N: '24', EPOCHS: '3', SPLIT: '1' });
        expect(r0!.resumed).toEqual(r0!.full);
        expect(r1!.resumed).toEqual(r0!.full);
      }),
      { seed: 20240622, numRuns: 3, endOnFailure: true },
    );
  });
});

/** A step in [lo, hi] drawn from a fixed seed (the "random batch" of the fault, reproducible). */
function faultStep(seed: number, lo: number, hi: number): number {
  const x = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return lo + (x % (hi - lo + 1));
}

describe('faults with Adam and a same-shape model: launch({ maxRestarts: 1 }) ends where an uninterrupted run ends, bitwise', () => {
  const base = { MODE: 'backup', OPT: 'adam', MODEL: 'same', N: '40', BATCH: '4', EPOCHS: '4', EVERY: '3' };
  let clean: BackupReport[] = [];

  it('uninterrupted reference (rank 0 backs up, the backup is deleted at the end)', async () => {
    const backup = join(dir, 'clean', 'backup');
    const result = await launchThreads('./resume-worker.ts', 2, { env: { ...base, BACKUP: backup }, timeoutMs: 60_000 });
    expect(result.ok).toBe(true);
    clean = result.results as BackupReport[];
    expect(clean[1]!.weights).toEqual(clean[0]!.weights);
    expect(existsSync(join(backup, 'backup'))).toBe(false);
  });

  it.each([
    ['exit', 1],
    ['throw', 2],
    ['hang', 3],
  ] as const)('rank 1 fails by %s at a seeded random step; the group restarts and resumes every rank from rank 0’s backup', async (kind, seed) => {
    const step = faultStep(seed, 4, 17);
    const root = join(dir, `fault-${kind}`);
    const lines: string[] = [];
    const timeoutMs = kind === 'hang' ? 1500 : 60_000;
    const started = Date.now();
    const result = await launchThreads('./resume-worker.ts', 2, { env: { ...base, BACKUP: join(root, 'backup'), FAIL: `${kind}:1:${step}` }, timeoutMs, maxRestarts: 1, log: (l) => lines.push(l) });
    expect(result.ok, JSON.stringify(result.attempts)).toBe(true);
    expect(result.restarts).toBe(1);
    const reports = result.results as BackupReport[];
    for (const r of reports) {
      expect(r.restartCount).toBe(1);
      expect(r.resumedFrom).toMatch(/backup$/);
      expect(r.step).toBe(20);
    }
    expect(reports[0]!.weights).toEqual(clean[0]!.weights);
    expect(reports[1]!.weights).toEqual(clean[0]!.weights);
    const first = result.attempts[0]!;
    // Detection: from the fault to the end of the failed attempt (every replica ended); restart: from then to the first step after it.
    const faultAt = Number(readdirSync(root).includes('fault-at-1') ? (await import('node:fs')).readFileSync(join(root, 'fault-at-1'), 'utf8') : Number.NaN);
    const attemptEnd = started + first.durationMs;
    const detectMs = attemptEnd - faultAt;
    const restartMs = Math.min(...reports.map((r) => r.firstStepAt ?? Number.POSITIVE_INFINITY)) - attemptEnd;
    console.info(`[fault ${kind} at step ${step}] detected and group ended in ${detectMs.toFixed(0)} ms (timeout ${timeoutMs} ms); restarted and resumed to the first step in ${restartMs.toFixed(0)} ms`);
    if (kind === 'hang') {
      expect(first.failures.find((f) => f.rank === 1)!.error).toMatch(/terminated by the launcher: no answer within the 1500 ms collective timeout/);
      expect(detectMs).toBeLessThan(timeoutMs + 3000); // no 10 s grace on top of the timeout
    } else expect(detectMs).toBeLessThan(5000);
  });

  it('backupAndRestore on every rank with one directory is refused with a clear error, before the ranks collide', async () => {
    const result = await launchThreads('./resume-worker.ts', 2, { env: { ...base, BACKUP: join(dir, 'shared', 'backup'), SHARED: '1' }, timeoutMs: 60_000 });
    expect(result.ok).toBe(false);
    const errors = result.attempts[0]!.failures.map((f) => f.error).join('\n');
    expect(errors).toMatch(/DistributedConfigError: rank [01] was about to write a checkpoint to ".*shared\/backup\/backup", which rank [01] of this group writes too/);
    expect(errors).toMatch(/rankZero\(ctx, backupAndRestore\(\{ dir \}\)\)/);
  });
});
