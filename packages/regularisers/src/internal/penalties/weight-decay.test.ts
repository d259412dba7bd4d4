import * as tf from '@tensorflow/tfjs';
import type { FunctionModel } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, cpu, expectClose, fresh, nanLossAt, reportsOf, trainer, values } from '../../test-support/fixtures.js';
import { skipNonFiniteGradients } from '../gradients/clipping.js';
import { decoupledWeightDecay } from './weight-decay.js';

beforeAll(cpu);

// A loss whose gradient does not depend on the weights (mean of x·w): AdamW can then be replayed exactly by hand.
const linearLoss = { name: 'linear', fn: (_y: tf.Tensor, p: tf.Tensor) => tf.reshape(p, [-1]) as tf.Tensor1D };
const X = [[1, 2], [3, -4]];
const G = [2, -1]; // mean of the rows of X = ∂loss/∂w

function kernelOnly(w0: number[]): FunctionModel & { w: tf.Variable; b: tf.Variable } {
  const prefix = fresh('wd');
  const w = tf.variable(tf.tensor2d(w0.map((v) => [v])), true, `${prefix}/kernel`);
  const b = tf.variable(tf.tensor1d([0.5]), true, `${prefix}/bias`);
  return { w, b, variables: [w, b], apply: (x) => tf.add(tf.matMul(x as tf.Tensor2D, w), b) };
}

/** PyTorch AdamW, step for step: p ← p·(1 − lr·wd), then Adam (tfjs' epsilon placement: √v̂ + ε). */
function adamW(p0: number[], g: number[], steps: number, lr: number, wd: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-7): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  for (let t = 1; t <= steps; t++) {
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * wd);
      m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
      v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - beta1 ** t);
      const vHat = v[i]! / (1 - beta2 ** t);
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
  return p;
}

describe('decoupledWeightDecay', () => {
  it('equals PyTorch AdamW exactly (Adam + decay by lr·wd, independent of the adaptive scaling)', async () => {
    const model = kernelOnly([1.5, -2]);
    const t = trainer(model, { optimizer: tf.train.adam(0.1), loss: linearLoss }).use(decoupledWeightDecay({ rate: 0.2 }));
    const seen = collect(t.events$);
    await t.fit({ x: tf.tensor2d(X), y: tf.zeros([2, 1]) }, { epochs: 3, batchSize: 2, handleSignals: false });
    expectClose(values(model.w), adamW([1.5, -2], G, 3, 0.1, 0.2), 1e-5);
    // the bias is excluded by default: plain Adam with gradient 1
    expectClose(values(model.b), adamW([0.5], [1], 3, 0.1, 0), 1e-5);
    const report = reportsOf(seen.reports, 'weight-decay').at(-1)!;
    expect(report).toMatchObject({ kind: 'weight-decay', name: 'weight-decay', step: 3 });
    expectClose([report.values.factor, report.values.rate, report.values.learningRate], [0.02, 0.2, 0.1]);
  });

  it('differs from an L2 penalty under Adam, equals plain Adam with rate 0', async () => {
    const model = kernelOnly([1.5, -2]);
    await trainer(model, { optimizer: tf.train.adam(0.1), loss: linearLoss }).use(decoupledWeightDecay({ rate: 0 })).fit({ x: tf.tensor2d(X), y: tf.zeros([2, 1]) }, { epochs: 2, batchSize: 2, handleSignals: false });
    expectClose(values(model.w), adamW([1.5, -2], G, 2, 0.1, 0), 1e-5);
  });

  it('does not decay a skipped update', async () => {
    const run = async (skipAt: Set<number>) => {
      const model = kernelOnly([1, 1]);
      const t = trainer(model, { optimizer: tf.train.sgd(0.1), loss: linearLoss }).use(nanLossAt(skipAt)).use(decoupledWeightDecay({ rate: 0.5 })).use(skipNonFiniteGradients());
      const seen = collect(t.events$);
      await t.fit({ x: tf.tensor2d(X), y: tf.zeros([2, 1]) }, { epochs: 3, batchSize: 2, handleSignals: false });
      return { w: values(model.w), skipped: seen.events.filter((e) => e.type === 'regulariser:skipped').length };
    };
    const twoSteps = await run(new Set([5]));
    const skipped = await run(new Set([1]));
    expect(skipped.skipped).toBe(1);
    // SGD with decoupled decay: p ← p(1 − lr·wd) − lr·g, twice (the skipped step changes nothing)
    const p = [1, 1].map((v, i) => v * 0.95 - 0.1 * G[i]!).map((v, i) => v * 0.95 - 0.1 * G[i]!);
    const three = p.map((v, i) => v * 0.95 - 0.1 * G[i]!);
    expectClose(skipped.w, p, 1e-5);
    expectClose(twoSteps.w, three, 1e-5);
  });
});
