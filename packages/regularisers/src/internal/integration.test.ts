import * as tf from '@tensorflow/tfjs';
import { createTrainer, ofType, type Plugin } from '@fitstream/core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { blobs, cpu, mlp } from '../test-support/fixtures.js';
import { maxNorm } from './constraints/constraints.js';
import { clipGradNorm } from './gradients/clipping.js';
import { binaryFocalCrossentropy } from './loss/focal.js';
import { classWeights } from './loss/class-weights.js';
import { gaussianNoise, gradientNoise } from './noise/noise.js';
import { decoupledWeightDecay } from './penalties/weight-decay.js';
import { weightPenalty } from './penalties/weight-penalty.js';
import { isReportRead, readReportAsync } from './report/report-values.js';

beforeAll(cpu);
afterEach(() => vi.restoreAllMocks());

const everything = (report?: { every?: number; read?: 'lazy' | 'eager' }): Plugin[] => [
  gaussianNoise({ stddev: 0.05, ...(report ? { report } : {}) }),
  weightPenalty({ l1: 1e-4, l2: 1e-3, ...(report ? { report } : {}) }),
  classWeights({ 0: 1, 1: 3 }, { reduction: 'mean_with_weights', ...(report ? { report } : {}) }),
  decoupledWeightDecay({ rate: 0.01, ...(report ? { report } : {}) }),
  clipGradNorm(1, report ? { report } : {}),
  gradientNoise({ eta: 0.001, ...(report ? { report } : {}) }),
  maxNorm({ maxValue: 3, ...(report ? { report } : {}) }),
];

function binaryTrainer(plugins: Plugin[]) {
  const model = mlp({ outputs: 1, activation: 'sigmoid', seed: 6 });
  const trainer = createTrainer({ model, optimizer: 'adam', loss: binaryFocalCrossentropy({ gamma: 2 }), metrics: ['binaryAccuracy'], seed: 7, backend: 'current', log: null });
  for (const p of plugins) trainer.use(p);
  return { model, trainer };
}

const binaryData = (n: number) => {
  const { x, labels } = blobs(n, 3, 2, 12);
  return { x, y: tf.tensor2d(labels, [n, 1]) };
};

describe('every regulariser in one real training', () => {
  it('trains, reports each kind on the event stream, and tf.memory().numTensors is flat across epochs', async () => {
    const { trainer } = binaryTrainer(everything());
    const kinds = new Set<string>();
    trainer.events$.pipe(ofType('regulariser:report')).subscribe((e) => {
      kinds.add(e.kind);
      if (e.kind === 'clip') expect(e.values.norm).toBeGreaterThanOrEqual(0); // typed by kind
    });
    const counts: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe(() => counts.push(tf.memory().numTensors));
    const data = binaryData(64);
    const { history } = await trainer.fit(data, { epochs: 7, batchSize: 16, validation: data, handleSignals: false });
    expect([...kinds].sort()).toEqual(['clip', 'constraint', 'gradient-noise', 'input-noise', 'loss-weighting', 'penalty', 'weight-decay']);
    expect(counts[6]).toBe(counts[2]);
    expect(history.logs.val_loss!.every(Number.isFinite)).toBe(true);
    expect(history.logs.loss!.at(-1)).toBeLessThan(history.logs.loss![0]!);
  });

  it('reads nothing back per step unless asked: tensor reads do not grow with the number of steps', async () => {
    const reads = async (batches: number, report?: { every?: number; read?: 'lazy' | 'eager' }) => {
      const { trainer } = binaryTrainer(everything(report));
      const data = binaryData(batches * 8);
      // Reads of tensor values (what a GPU backend turns into a device sync); cpu kernels' internal reads don't count.
      const sync = vi.spyOn(tf.Tensor.prototype, 'dataSync');
      const async = vi.spyOn(tf.Tensor.prototype, 'data');
      await trainer.fit(data, { epochs: 1, batchSize: 8, handleSignals: false });
      const n = sync.mock.calls.length + async.mock.calls.length;
      vi.restoreAllMocks();
      return n;
    };
    expect(await reads(8)).toBe(await reads(4));
    // eager reports read every report: 4 more steps → 4 more reads per device-backed plugin (penalty, class weights, clip, max-norm)
    const eager = (await reads(8, { read: 'eager' })) - (await reads(4, { read: 'eager' }));
    expect(eager).toBe(4 * 4);
    // every: 4 → one report (and one eager read) per 4 steps
    expect((await reads(8, { every: 4, read: 'eager' })) - (await reads(4, { every: 4, read: 'eager' }))).toBe(4);
  });

  it('lazy values: unread at publish, readable in the subscriber, async too, and logged only once read', async () => {
    const { trainer } = binaryTrainer([clipGradNorm(0.5, { report: { every: 2 } })]);
    const seen: { unread: boolean; json: string; norm: number; steps: number }[] = [];
    const pending: Promise<unknown>[] = [];
    trainer.events$.pipe(ofType('regulariser:report')).subscribe((e) => {
      const unread = !isReportRead(e.values);
      const json = JSON.stringify(e);
      pending.push(readReportAsync(e.values));
      seen.push({ unread, json, norm: e.kind === 'clip' ? e.values.norm : Number.NaN, steps: e.steps });
    });
    await trainer.fit(binaryData(32), { epochs: 1, batchSize: 8, handleSignals: false });
    await Promise.all(pending);
    expect(seen).toHaveLength(2);
    expect(seen.every((s) => s.unread && s.steps === 2 && s.norm > 0)).toBe(true);
    expect(JSON.parse(seen[0]!.json)).toMatchObject({ type: 'regulariser:report', kind: 'clip', values: null });
  });
});
