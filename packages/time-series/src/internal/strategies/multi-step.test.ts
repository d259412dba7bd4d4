import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { modelPredictor, multiStepForecast, type WindowPredictor } from './multi-step.js';

const truth = (t: number) => 3 * Math.sin(t / 3) + t / 7;

/** A history that throws when anything past the cutoff is read. */
function guarded(values: number[], cutoff: number): ArrayLike<number> {
  return new Proxy(values.slice(0, cutoff), {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key) && Number(key) >= cutoff) throw new Error(`read past the cutoff: ${key}`);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

describe('multi-step strategies', () => {
  const L = 4;
  const series = Array.from({ length: 80 }, (_, t) => truth(t));
  // an oracle that knows the generating function: it recovers t from the window's position
  const cutoff = 50;
  const oneStep: WindowPredictor = (ws) => ws.map((w) => {
    const t = series.findIndex((_, i) => i + L <= series.length && w.every((v, j) => Math.abs(v - truth(i + j)) < 1e-9));
    return [truth(t + L)];
  });

  it('recursive with a perfect 1-step oracle equals the truth for every step, reading nothing past the cutoff', async () => {
    const out = await multiStepForecast(guarded(series, cutoff), 10, { strategy: 'recursive', inputLength: L, predictors: [oneStep] });
    [...out].forEach((v, h) => expect(v).toBeCloseTo(truth(cutoff + h), 9));
  });

  it('recursive with horizon 1 equals direct with horizon 1; multi-output returns the head’s H values', async () => {
    const history = guarded(series, cutoff);
    const r = await multiStepForecast(history, 1, { strategy: 'recursive', inputLength: L, predictors: [oneStep] });
    const d = await multiStepForecast(history, 1, { strategy: 'direct', inputLength: L, predictors: [oneStep] });
    expect([...r]).toEqual([...d]);
    const mimo: WindowPredictor = (ws) => ws.map(() => [1, 2, 3]);
    expect([...(await multiStepForecast(history, 3, { strategy: 'multi-output', inputLength: L, predictors: [mimo] }))]).toEqual([1, 2, 3]);
    await expect(multiStepForecast(history, 3, { strategy: 'direct', inputLength: L, predictors: [oneStep] })).rejects.toThrow(/one predictor per step/);
  });

  it('a MIMO head emits [batch, H] and plugs in through modelPredictor', async () => {
    const H = 5;
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [L, 1] }), tf.layers.dense({ units: H })] });
    const x = tf.zeros([3, L, 1]);
    expect((model.apply(x) as tf.Tensor).shape).toEqual([3, H]);
    const out = await multiStepForecast(series.slice(0, cutoff), H, { strategy: 'multi-output', inputLength: L, predictors: [modelPredictor(model)] });
    expect(out).toHaveLength(H);
    x.dispose();
    model.dispose();
  });
});
