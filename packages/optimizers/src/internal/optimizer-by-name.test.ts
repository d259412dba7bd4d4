// Optimizers by name: the names tfjs-layers' model.compile knows give the very optimizer it builds (class and every
// hyper-parameter: early Keras' rates, epsilon 1e-7 as Keras), `momentum` is SGD with momentum 0.9, and anything else
// is refused with the argument named.
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPTIMIZER_NAMES, resolveOptimizer, type OptimizerName, type OptimizerSpec } from '../index.js';

/** What `model.compile({ optimizer: name })` builds in tfjs-layers: the anchor for the names both know. */
function compiledOptimizer(name: string): tf.Optimizer {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  model.compile({ optimizer: name, loss: 'meanSquaredError' });
  const { optimizer } = model;
  model.dispose(); // the model owns the optimizer it built by name and disposes it: its config stays readable
  return optimizer;
}

function thrown(spec: unknown): unknown {
  try {
    resolveOptimizer(spec as OptimizerSpec);
  } catch (error) {
    return error;
  }
  throw new Error(`resolveOptimizer(${String(spec)}) did not throw`);
}

describe('resolveOptimizer: optimizers by name', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('knows seven names', () => {
    expect(OPTIMIZER_NAMES).toEqual(['sgd', 'momentum', 'adam', 'adamax', 'rmsprop', 'adagrad', 'adadelta']);
  });

  const layersNames = OPTIMIZER_NAMES.filter((n) => n !== 'momentum');
  it.each(layersNames)('%s builds what tfjs-layers’ model.compile builds for it: same class, same config', (name) => {
    const { optimizer, owned } = resolveOptimizer(name);
    const anchor = compiledOptimizer(name);
    expect(owned).toBe(true);
    expect(optimizer.getClassName()).toBe(anchor.getClassName());
    expect(Object.getPrototypeOf(optimizer)).toBe(Object.getPrototypeOf(anchor));
    expect(optimizer.getConfig()).toEqual(anchor.getConfig());
    optimizer.dispose();
  });

  const expected: Record<OptimizerName, { className: string; config: Record<string, unknown> }> = {
    sgd: { className: 'SGD', config: { learningRate: 0.01 } },
    momentum: { className: 'Momentum', config: { learningRate: 0.01, momentum: 0.9, useNesterov: false } },
    adam: { className: 'Adam', config: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } },
    adamax: { className: 'Adamax', config: { learningRate: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, decay: 0 } },
    rmsprop: { className: 'RMSProp', config: { learningRate: 0.001, decay: 0.9, momentum: 0, epsilon: 1e-7, centered: false } },
    adagrad: { className: 'Adagrad', config: { learningRate: 0.01, initialAccumulatorValue: 0.1 } },
    adadelta: { className: 'Adadelta', config: { learningRate: 1, rho: 0.95, epsilon: 1e-7 } },
  };
  it.each(OPTIMIZER_NAMES)('%s: class and hyper-parameters, spelt out', (name) => {
    const { optimizer } = resolveOptimizer(name);
    expect(optimizer.getClassName()).toBe(expected[name].className);
    expect(optimizer.getConfig()).toEqual(expected[name].config);
    optimizer.dispose();
  });

  it('takes a learning rate with the name, and keeps the other defaults', () => {
    for (const name of OPTIMIZER_NAMES) {
      const { optimizer, owned } = resolveOptimizer({ name, learningRate: 0.25 });
      expect(owned).toBe(true);
      expect(optimizer.getConfig()).toEqual({ ...expected[name].config, learningRate: 0.25 });
      optimizer.dispose();
    }
    const { optimizer } = resolveOptimizer({ name: 'adam' }); // no rate: the default
    expect(optimizer.getConfig()['learningRate']).toBe(0.001);
    optimizer.dispose();
  });

  it('returns an instance as it is, not owned (the caller disposes it)', () => {
    const mine = tf.train.adagrad(0.3);
    expect(resolveOptimizer(mine)).toEqual({ optimizer: mine, owned: false });
    expect(resolveOptimizer(mine).optimizer).toBe(mine);
    mine.dispose();
  });

  it.each([['adamw'], ['Adam'], ['constructor'], ['toString'], [''], [undefined], [null], [{ name: 'nadam' }], [42]])(
    'refuses %j as `optimizer`, listing the names',
    (spec) => {
      const error = thrown(spec);
      expect(error).toBeInstanceOf(FitstreamInputError);
      expect((error as FitstreamInputError).argument).toBe('optimizer');
      expect((error as Error).message).toMatch(/^optimizer: unknown optimizer ".*"\. Use one of sgd, momentum, adam, adamax, rmsprop, adagrad, adadelta, or pass a tf\.train\.\* instance\.$/);
    },
  );

  it.each([[-0.1], [Number.NaN], [Number.POSITIVE_INFINITY], ['0.01']])('refuses the learning rate %j as `optimizer.learningRate`', (learningRate) => {
    const error = thrown({ name: 'sgd', learningRate });
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as FitstreamInputError).argument).toBe('optimizer.learningRate');
    expect((error as Error).message).toContain('must be a finite number ≥ 0');
  });

  it('accepts a learning rate of 0 (a frozen run)', () => {
    const { optimizer } = resolveOptimizer({ name: 'rmsprop', learningRate: 0 });
    expect(optimizer.getConfig()['learningRate']).toBe(0);
    optimizer.dispose();
  });
});
