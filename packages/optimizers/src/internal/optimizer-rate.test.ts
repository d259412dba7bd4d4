// The learning rate read and set on any tfjs optimizer: a rate set later steps exactly as one given at construction
// (SGD and momentum cache −lr in a scalar, which setLearningRate must refresh; the others read the field each update).
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLearningRate, OPTIMIZER_NAMES, resolveOptimizer, setLearningRate, type OptimizerName } from '../index.js';

/** The weights after two steps of `optimizer` from [1, -2, 3] with fixed gradients. */
function twoSteps(optimizer: tf.Optimizer): number[] {
  const v = tf.variable(tf.tensor1d([1, -2, 3]));
  const g = tf.tensor1d([0.5, -0.25, 2]);
  optimizer.applyGradients({ [v.name]: g });
  optimizer.applyGradients({ [v.name]: g });
  const values = Array.from(v.dataSync());
  tf.dispose([v, g]);
  return values;
}

function build(name: OptimizerName, learningRate: number): tf.Optimizer {
  return resolveOptimizer({ name, learningRate }).optimizer;
}

describe('getLearningRate / setLearningRate', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(OPTIMIZER_NAMES)('%s: reads the rate it was built with, and reads back the rate set', (name) => {
    const optimizer = build(name, 0.125);
    expect(getLearningRate(optimizer)).toBe(0.125);
    setLearningRate(optimizer, 0.03);
    expect(getLearningRate(optimizer)).toBe(0.03);
    setLearningRate(optimizer, 0);
    expect(getLearningRate(optimizer)).toBe(0);
    optimizer.dispose();
  });

  it.each(OPTIMIZER_NAMES)('%s: a rate set after construction steps bit for bit as one given at construction', (name) => {
    const built = build(name, 0.05);
    const changed = build(name, 0.5);
    setLearningRate(changed, 0.05);
    const expected = twoSteps(built);
    expect(twoSteps(changed)).toEqual(expected);
    expect(expected).not.toEqual([1, -2, 3]); // the steps moved the weights
    built.dispose();
    changed.dispose();
  });

  it.each(OPTIMIZER_NAMES)('%s: a rate set between steps applies from the next step', (name) => {
    const optimizer = build(name, 0.1);
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const g = tf.tensor1d([0.5, -0.25, 2]);
    optimizer.applyGradients({ [v.name]: g });
    const after = Array.from(v.dataSync());
    setLearningRate(optimizer, 0);
    optimizer.applyGradients({ [v.name]: g });
    expect(Array.from(v.dataSync())).toEqual(after); // rate 0: frozen, whatever the optimizer's state
    tf.dispose([v, g]);
    optimizer.dispose();
  });

  it.each([[-1], [Number.NaN], [Number.NEGATIVE_INFINITY], ['0.1']])('refuses %j, naming the learning rate, and keeps the old rate', (lr) => {
    const optimizer = tf.train.adam(0.01);
    let error: unknown;
    try {
      setLearningRate(optimizer, lr as number);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as FitstreamInputError).argument).toBe('learning rate');
    expect(getLearningRate(optimizer)).toBe(0.01);
    optimizer.dispose();
  });

  it('refuses to read an optimizer without a numeric learningRate', () => {
    const custom = { schedule: () => 0.1, getClassName: () => 'Custom' } as unknown as tf.Optimizer;
    expect(() => getLearningRate(custom)).toThrow('Optimizer Custom has no numeric learningRate');
  });
});
