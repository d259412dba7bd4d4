import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchThreads } from '../../test-support/launch-helpers.js';
import { maxRelativeDifference } from '../../test-support/train-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-faults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  weights: number[];
  step: number;
  restartCount: number;
  resumedFrom: string | null;
}

describe('failures on thread replicas: PeerLostError, never a silent hang; restarts resume from rank 0 checkpoints', () => {
  it('a replica that dies makes its peer fail with PeerLostError at once', async () => {
    const started = performance.now();
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', FAIL: 'exit:1:5' }, timeoutMs: 60_000 });
    expect(result.ok).toBe(false);
    const failures = result.attempts[0]!.failures;
    expect(failures.map((f) => f.rank)).toEqual([0, 1]);
    expect(failures[0]!.error).toMatch(/PeerLostError: rank 0 lost its group in (allreduce|broadcast|allgather) #\d+: rank 1 failed \(exit code 3\)/);
    expect(performance.now() - started).toBeLessThan(30_000); // far below the 60 s collective timeout
  });

  it('a replica that hangs makes its peer fail with PeerLostError within the timeout; the launcher ends the hung one', async () => {
    const started = performance.now();
    const result = await launchThreads('./train-worker.ts', 2, { env: { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4', FAIL: 'hang:1:5' }, timeoutMs: 1500, gracePeriodMs: 200 });
    expect(result.ok).toBe(false);
    const failures = result.attempts[0]!.failures;
    expect(failures[0]!.rank).toBe(0);
    expect(failures[0]!.error).toMatch(/PeerLostError: rank 0: no answer from rank 1 within 1500 ms/);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('maxRestarts restarts the group, every rank resumes from rank 0’s checkpoint, and ends where an uninterrupted run ends', async () => {
    const env = { ALGO: 'dp', N: '40', BATCH: '4', EPOCHS: '4' };
    const clean = await launchThreads('./train-worker.ts', 2, { env: { ...env, CKPT: join(dir, 'clean') }, timeoutMs: 60_000 });
    expect(clean.ok).toBe(true);
    const lines: string[] = [];
    const result = await launchThreads('./train-worker.ts', 2, { env: { ...env, CKPT: join(dir, 'restarted'), FAIL: 'exit:1:12' }, timeoutMs: 60_000, maxRestarts: 2, log: (l) => lines.push(l) });
    expect(result.ok).toBe(true);
    expect(result.restarts).toBe(1);
    expect(lines.join('\n')).toMatch(/restarting all 2 replicas \(restart 1 of 2\)/);
    const reports = result.results as Report[];
    for (const r of reports) {
      expect(r.restartCount).toBe(1);
      expect(r.resumedFrom).toMatch(/epoch-0002-step-00000010$/); // 5 steps per epoch: the epoch-2 checkpoint
      expect(r.step).toBe(20);
    }
    const uninterrupted = (clean.results as Report[])[0]!.weights;
    expect(maxRelativeDifference(reports[0]!.weights, uninterrupted)).toBeLessThan(1e-6);
    expect(reports[1]!.weights).toEqual(reports[0]!.weights);
  });
});
