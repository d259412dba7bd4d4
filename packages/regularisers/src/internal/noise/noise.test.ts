import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect, contributions, cpu, mlp, blobs, reportsOf, stepContext, trainer, values } from '../../test-support/fixtures.js';
import { gaussianNoise, gradientNoise, gradientNoiseStddev } from './noise.js';

beforeAll(cpu);

const std = (a: number[]) => {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
};

describe('gaussianNoise (input noise)', () => {
  it('adds N(0, σ²) to training batches only, reproducibly', () => {
    const [t] = contributions(gaussianNoise({ stddev: 0.5 })).batch;
    const x = tf.zeros([100, 50]);
    const batch = { x, y: tf.zeros([100, 1]) };
    const a = values(t!.transform(batch, stepContext({ batch: 3 })).x as tf.Tensor);
    expect(std(a)).toBeCloseTo(0.5, 1.5);
    expect(Math.abs(a.reduce((s, v) => s + v, 0) / a.length)).toBeLessThan(0.02);
    expect(values(t!.transform(batch, stepContext({ batch: 3 })).x as tf.Tensor)).toEqual(a); // same (seed, epoch, batch)
    expect(values(t!.transform(batch, stepContext({ batch: 4 })).x as tf.Tensor)).not.toEqual(a);
    expect(t!.transform(batch, stepContext({ training: false })).x).toBe(x); // never in inference
    expect(t!.applyTo).toBe('train');
  });

  it('perturbs only the chosen inputs of a multi-input model', () => {
    const [t] = contributions(gaussianNoise({ stddev: 1, inputs: [1] })).batch;
    const xs = [tf.zeros([4, 2]), tf.zeros([4, 2])];
    const out = t!.transform({ x: xs, y: tf.zeros([4, 1]) }, stepContext()).x as tf.Tensor[];
    expect(out[0]).toBe(xs[0]);
    expect(values(out[1]!).some((v) => v !== 0)).toBe(true);
  });
});

describe('gradientNoise (annealed, Neelakantan et al.)', () => {
  it('σ² = η / (1 + t)^γ', () => {
    expect(gradientNoiseStddev(0, { eta: 0.3 })).toBeCloseTo(Math.sqrt(0.3), 12);
    expect(gradientNoiseStddev(99, { eta: 0.3, gamma: 0.55 })).toBeCloseTo(Math.sqrt(0.3 / 100 ** 0.55), 12);
    expect(gradientNoiseStddev(10)).toBeCloseTo(Math.sqrt(0.01 / 11 ** 0.55), 12);
  });

  it('adds noise of that σ at step t, seeded by (seed, epoch, batch)', () => {
    const [t] = contributions(gradientNoise({ eta: 0.3 })).gradient;
    const grads = { a: tf.zeros([10_000]) };
    const ctx = (step: number) => ({ ...stepContext({ step }), loss: tf.scalar(0), samples: 1, variables: [] });
    const at0 = values(t!.transform(grads, ctx(0))!.a!);
    const at99 = values(t!.transform(grads, ctx(99))!.a!);
    expect(std(at0)).toBeCloseTo(Math.sqrt(0.3), 1.5);
    expect(std(at99) / std(at0)).toBeCloseTo(Math.sqrt(1 / 100 ** 0.55), 1.5);
    expect(values(t!.transform(grads, ctx(0))!.a!)).toEqual(at0);
  });

  it('trains reproducibly under the trainer seed and reports σ', async () => {
    const run = async (seed: number) => {
      const model = mlp({ seed: 2 });
      const t = trainer(model, { seed }).use(gradientNoise({ eta: 0.1 }));
      const seen = collect(t.events$);
      const { x, y } = blobs(32);
      await t.fit({ x, y }, { epochs: 2, batchSize: 16, handleSignals: false });
      return { weights: model.getWeights().map((w) => values(w)), reports: seen.reports };
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(a.weights).toEqual(b.weights);
    expect(a.weights).not.toEqual(c.weights);
    expect(reportsOf(a.reports, 'gradient-noise').map((r) => [r.kind, r.step, r.values.stddev])).toEqual([1, 2, 3, 4].map((s) => ['gradient-noise', s, gradientNoiseStddev(s - 1, { eta: 0.1 })]));
  });
});
