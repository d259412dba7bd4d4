import { describe, expect, it } from 'vitest';
import { elasticUpdate } from '../../index.js';
import { launchThreads } from '../../test-support/launch-helpers.js';
import { maxRelativeDifference } from '../../test-support/train-fixture.js';

interface Report {
  weights: number[];
  centre: number[] | null;
  step: number;
  loss: number[];
}

const run = async (env: Record<string, string>) => {
  const result = await launchThreads('./train-worker.ts', 2, { env: { N: '40', BATCH: '4', EPOCHS: '2', ...env }, timeoutMs: 60_000 });
  expect(result.attempts[0]!.failures).toEqual([]);
  return result.results as Report[];
};

describe('local SGD and synchronous EASGD on thread replicas', () => {
  it('local SGD with H = 1 equals synchronous data-parallel SGD (1e-5 relative)', async () => {
    const [local, sync] = [await run({ ALGO: 'local', PERIOD: '1', DIFFERENT_INIT: '1' }), await run({ ALGO: 'dp' })];
    expect(local[0]!.weights).toEqual(local[1]!.weights);
    expect(maxRelativeDifference(local[0]!.weights, sync[0]!.weights)).toBeLessThan(1e-5);
  });

  it('local SGD with H = 4 lets replicas drift between averagings and ends equal (averaged at the epoch end)', async () => {
    const reports = await run({ ALGO: 'local', PERIOD: '4' });
    expect(reports[0]!.weights).toEqual(reports[1]!.weights);
    const sync = await run({ ALGO: 'dp' });
    expect(maxRelativeDifference(reports[0]!.weights, sync[0]!.weights)).toBeGreaterThan(1e-6);
  });

  it('EASGD keeps one centre on every rank, ends on it, and learns', async () => {
    const reports = await run({ ALGO: 'easgd', PERIOD: '2', EPOCHS: '4' });
    expect(reports[0]!.centre).toEqual(reports[1]!.centre);
    expect(reports[0]!.weights).toEqual(reports[1]!.weights); // finalWeights: 'centre'
    expect(maxRelativeDifference(reports[0]!.weights, reports[0]!.centre!)).toBeLessThan(1e-6);
    const loss = reports[0]!.loss;
    expect(loss[loss.length - 1]!).toBeLessThan(loss[0]!);
  });

  it('the elastic update follows Zhang et al. (eqs. 5–6, old centre)', () => {
    // Two replicas x = [1, 3], centre 0, α = 0.25: s = 4.
    const x0 = Float32Array.of(1);
    const c = Float32Array.of(0);
    elasticUpdate(x0, c, Float32Array.of(4), 0.25, 2);
    expect(x0[0]).toBeCloseTo(0.75); // 1 − 0.25·(1 − 0)
    expect(c[0]).toBeCloseTo(1); // 0 + 0.25·(4 − 2·0)
  });
});
