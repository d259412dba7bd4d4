import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { blobs, collect, cpu, expectClose, mlp, reportsOf, trainer, values } from '../../test-support/fixtures.js';
import { maxNorm, maxNormProjection, minMaxNorm, minMaxNormProjection, nonNeg, nonNegProjection, unitNorm, unitNormProjection } from './constraints.js';

beforeAll(cpu);

const columnNorms = (w: tf.Tensor2D) => values(tf.norm(w, 'euclidean', 0));

describe('projections (Keras axis semantics)', () => {
  const w = () => tf.tensor2d([[3, 0.1], [4, 0.2]]); // column norms 5 and √0.05

  it('max-norm rescales columns above the max and leaves the others exactly unchanged', () => {
    const out = maxNormProjection(w(), 2) as tf.Tensor2D;
    expectClose(values(out), [1.2, 0.1, 1.6, 0.2]);
    expect(values(out)[1]).toBe(values(w())[1]); // bit-identical below the max
    expectClose(columnNorms(out), [2, Math.sqrt(0.05)]);
    // axis 1: row norms
    expectClose(values(tf.norm(maxNormProjection(w(), 1, 1), 'euclidean', 1)), [1, 1]);
  });

  it('unit-norm, min-max-norm and non-negativity', () => {
    expectClose(columnNorms(unitNormProjection(w()) as tf.Tensor2D), [1, 1], 1e-5);
    expectClose(columnNorms(minMaxNormProjection(w(), 0.5, 1) as tf.Tensor2D), [1, 0.5], 1e-5);
    expect(values(nonNegProjection(tf.tensor1d([-1, 0, 2])))).toEqual([0, 0, 2]);
    expect(() => maxNormProjection(tf.ones([2, 2]), 1, 2)).toThrow(/axis: 2 is out of range/);
  });

  it('convolution kernels: axes [0, 1, 2] constrain each filter', () => {
    const k = tf.randomNormal([3, 3, 2, 4], 0, 5, 'float32', 1);
    const out = maxNormProjection(k, 1, [0, 1, 2]);
    for (const n of values(tf.sqrt(tf.sum(tf.square(out), [0, 1, 2])))) expect(n).toBeLessThanOrEqual(1 + 1e-5);
  });
});

describe('constraints in training', () => {
  it('every column norm ≤ max after each step; biases untouched; reports projected columns', async () => {
    const model = mlp({ seed: 4 });
    const t = trainer(model, { optimizer: tf.train.sgd(2) }).use(maxNorm({ maxValue: 0.3 }));
    const seen = collect(t.events$);
    const norms: number[][] = [];
    t.events$.subscribe((e) => e.type === 'step:end' && norms.push(...model.getWeights().filter((w) => w.rank === 2).map((w) => columnNorms(w as tf.Tensor2D))));
    const { x, y } = blobs(32);
    await t.fit({ x, y }, { epochs: 2, batchSize: 8, handleSignals: false });
    for (const n of norms.flat()) expect(n).toBeLessThanOrEqual(0.3 + 1e-5);
    const report = reportsOf(seen.reports, 'constraint').at(-1)!;
    expect(report).toMatchObject({ kind: 'constraint', constraint: 'max-norm', step: 8 });
    expect(report.values.projected).toBeGreaterThan(0);
  });

  it('unit-norm, min-max-norm and non-neg hold after training', async () => {
    const model = mlp({ seed: 5 });
    const t = trainer(model, { optimizer: tf.train.sgd(1) }).use(unitNorm({ layers: ['hidden'] })).use(nonNeg({ layers: ['head'] })).use(minMaxNorm({ layers: ['head'], minValue: 0.5, maxValue: 2, name: 'head-norm' }));
    const { x, y } = blobs(16);
    await t.fit({ x, y }, { epochs: 2, batchSize: 8, handleSignals: false });
    const [hiddenKernel, , headKernel] = model.getWeights();
    expectClose(columnNorms(hiddenKernel as tf.Tensor2D), new Array<number>(6).fill(1), 1e-5);
    // head: non-negative first, then its column norms pulled into [0.5, 2] (positive scaling keeps the signs)
    for (const v of values(headKernel!)) expect(v).toBeGreaterThanOrEqual(0);
    for (const n of columnNorms(headKernel as tf.Tensor2D)) expect(n).toBeGreaterThanOrEqual(0.5 - 1e-5);
  });
});
