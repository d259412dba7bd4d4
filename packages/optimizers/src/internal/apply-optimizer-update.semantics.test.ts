// What applyOptimizerUpdate computes without a fused kernel: tfjs' own update, except centered RMSProp, which follows
// Keras (tfjs 4.22's is NaN for small gradients); and per-variable learning-rate factors.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyOptimizerUpdate, OPTIMIZER_NAMES, resolveOptimizer, usesFusedUpdate, type OptimizerName } from '../index.js';
import { disposeTracked, tensor, variable } from '../test-support/tracked-tensors.js';


type Case = OptimizerName | 'centered rmsprop';
function make(name: Case, learningRate?: number): tf.Optimizer {
  if (name === 'centered rmsprop') return tf.train.rmsprop(learningRate ?? 0.01, 0.9, 0, 1e-7, true);
  return resolveOptimizer({ name, ...(learningRate === undefined ? {} : { learningRate }) }).optimizer;
}

describe('applyOptimizerUpdate without a fused kernel', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    disposeTracked();
  });

  it.each(OPTIMIZER_NAMES)('%s: equals the optimizer’s own applyGradients, bit for bit, over three steps', (name) => {
    const [ours, theirs] = [variable([1, -2, 3, 0.5]), variable([1, -2, 3, 0.5])];
    const [a, b] = [resolveOptimizer(name).optimizer, resolveOptimizer(name).optimizer];
    expect(usesFusedUpdate(a)).toBe(false);
    for (const g of [[0.5, -1, 2, 1e-3], [0.1, 0.1, -3, 4], [-1, 2, 0, 0.25]]) {
      const gradient = tensor(g);
      applyOptimizerUpdate(a, { [ours.name]: gradient });
      b.applyGradients({ [theirs.name]: gradient });
    }
    expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
    expect(a.iterations).toBe(3);
    a.dispose();
    b.dispose();
  });

  it('centered RMSProp divides by √(ms − mg² + ε) as Keras does, where tfjs’ own update is NaN', () => {
    const [lr, rho, momentum, epsilon] = [0.01, 0.9, 0.5, 1e-7];
    const start = [1, -2, 3];
    const steps = [[1e-4, 0.5, -2], [2e-4, -0.25, 1]];
    // Keras 3 RMSprop(centered=True), in float64.
    const expected = start.slice();
    const [ms, mg, mom] = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (const g of steps) {
      g.forEach((gi, i) => {
        ms[i] = rho * ms[i]! + (1 - rho) * gi * gi;
        mg[i] = rho * mg[i]! + (1 - rho) * gi;
        mom[i] = momentum * mom[i]! + (lr * gi) / Math.sqrt(ms[i]! - mg[i]! * mg[i]! + epsilon);
        expected[i] = expected[i]! - mom[i]!;
      });
    }
    const [ours, theirs] = [variable(start), variable(start)];
    const [a, b] = [tf.train.rmsprop(lr, rho, momentum, epsilon, true), tf.train.rmsprop(lr, rho, momentum, epsilon, true)];
    for (const g of steps) {
      const gradient = tensor(g);
      applyOptimizerUpdate(a, { [ours.name]: gradient });
      b.applyGradients({ [theirs.name]: gradient });
    }
    Array.from(ours.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(Number.isNaN(theirs.dataSync()[0])).toBe(true); // tfjs: √(ms − (mg² + ε)) of a negative number
    a.dispose();
    b.dispose();
  });

  it.each<Case>([...OPTIMIZER_NAMES, 'centered rmsprop'])('%s: a factor scales the rate of its variable only, 0 freezes it', (name) => {
    const base = make(name);
    const baseRate = base.getConfig()['learningRate'] as number;
    const [scaled, frozen, plain] = [variable([1, -2, 3]), variable([4, 5, 6]), variable([-1, 0.5, 2])];
    const [halfRate, plainRef] = [variable([1, -2, 3]), variable([-1, 0.5, 2])];
    const g = tensor([0.5, -1, 2]);
    const factors = new Map([[scaled.name, 0.5], [frozen.name, 0]]);
    applyOptimizerUpdate(base, { [scaled.name]: g, [frozen.name]: g, [plain.name]: g }, (n) => factors.get(n) ?? 1);
    const [half, full] = [make(name, baseRate * 0.5), make(name)];
    applyOptimizerUpdate(half, { [halfRate.name]: g });
    applyOptimizerUpdate(full, { [plainRef.name]: g });

    Array.from(scaled.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(halfRate.dataSync()[i]!, 6)); // as if at half the rate
    expect(Array.from(frozen.dataSync())).toEqual([4, 5, 6]);
    expect(Array.from(plain.dataSync())).toEqual(Array.from(plainRef.dataSync()));
    expect(Array.from(scaled.dataSync())).not.toEqual([1, -2, 3]);
    [base, half, full].forEach((o) => o.dispose());
  });

  it('refuses a factor that is negative or not finite, naming the variable', () => {
    const v = variable([1]);
    const optimizer = tf.train.sgd(0.1);
    expect(() => applyOptimizerUpdate(optimizer, { [v.name]: tensor([1]) }, () => -1)).toThrow(`Learning-rate scale for variable "${v.name}" is -1`);
    expect(() => applyOptimizerUpdate(optimizer, { [v.name]: tensor([1]) }, () => Number.NaN)).toThrow(RangeError);
    expect(Array.from(v.dataSync())).toEqual([1]);
    optimizer.dispose();
  });
});
