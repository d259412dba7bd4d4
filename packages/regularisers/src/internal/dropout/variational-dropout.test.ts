import * as tf from '@tensorflow/tfjs';
import { Random } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { contributions, cpu, stepContext, values } from '../../test-support/fixtures.js';
import { variationalDropout, variationalDropoutMask, variationalInputDropout } from './variational-dropout.js';

beforeAll(cpu);

describe('variational dropout', () => {
  it('reuses one mask per sequence at every timestep, different across sequences', () => {
    const x = tf.ones([6, 5, 40]);
    const out = variationalDropout(x, 0.5, Random.fromSeed(3)).arraySync() as number[][][];
    for (const seq of out) for (const step of seq) expect(step).toEqual(seq[0]);
    expect(out[0]![0]).not.toEqual(out[1]![0]);
    for (const v of out.flat(2)) expect([0, 2]).toContain(v); // inverted dropout: kept values scaled by 1/(1−rate)
  });

  it('is deterministic under the seed, unbiased, and the identity at rate 0', () => {
    const a = values(variationalDropoutMask([200, 100], 0.3, 11));
    expect(values(variationalDropoutMask([200, 100], 0.3, 11))).toEqual(a);
    expect(values(variationalDropoutMask([200, 100], 0.3, 12))).not.toEqual(a);
    expect(a.reduce((s, v) => s + v, 0) / a.length).toBeCloseTo(1, 1); // E[mask] = 1
    const x = tf.ones([2, 3, 4]);
    expect(variationalDropout(x, 0, 1)).toBe(x);
    expect(() => variationalDropout(tf.ones([2, 3]), 0.1, 1)).toThrow(/\[batch, time, features\]/);
  });

  it('as a batch transform: training only, reproducible per (seed, epoch, batch)', () => {
    const [t] = contributions(variationalInputDropout({ rate: 0.5 })).batch;
    const batch = { x: tf.ones([4, 3, 8]), y: tf.zeros([4, 1]) };
    const a = values(t!.transform(batch, stepContext({ batch: 1 })).x as tf.Tensor);
    expect(values(t!.transform(batch, stepContext({ batch: 1 })).x as tf.Tensor)).toEqual(a);
    expect(values(t!.transform(batch, stepContext({ batch: 2 })).x as tf.Tensor)).not.toEqual(a);
    expect(t!.transform(batch, stepContext({ training: false })).x).toBe(batch.x);
    expect(() => t!.transform({ x: tf.ones([4, 3]), y: tf.zeros([4, 1]) }, stepContext())).toThrow(/needs sequences/);
  });
});
