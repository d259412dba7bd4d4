import * as tf from '@tensorflow/tfjs';
import { BatchTransform, Random, createChildContainer, pluginRegistry, resolveAll, selectBackend } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainTestSplit } from '../holdout/train-test-split.js';
import { prepareSplits, standardScaler } from './preprocess.js';
import { applyForRole, augmentation, roleTransform, trainOnly } from './roles.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

describe('role-aware transforms', () => {
  const addOne = trainOnly('add-one', (x) => tf.add(x, 1));
  const double = roleTransform('double', ['train', 'val', 'test'], (x) => tf.mul(x, 2));

  it('runs a train-only transform on training data and never on validation, test or out-of-bag data', () => {
    const x = tf.tensor1d([1, 2]);
    const r = Random.fromSeed(1);
    expect(Array.from(applyForRole([addOne, double], 'train', x, r).dataSync())).toEqual([4, 6]);
    for (const role of ['val', 'test', 'oob'] as const) {
      const out = applyForRole([addOne], role, x, r);
      expect(Array.from(out.dataSync())).toEqual([1, 2]);
    }
    expect(Array.from(applyForRole([addOne, double], 'test', x, r).dataSync())).toEqual([2, 4]);
  });

  it('registers a train-only augmentation as a batch transform that skips validation, and refuses one without the train role', () => {
    const container = createChildContainer();
    augmentation(addOne).register!(pluginRegistry(container));
    augmentation(double).register!(pluginRegistry(container));
    expect(resolveAll(container, BatchTransform).map((t) => [t.name, t.applyTo])).toEqual([
      ['add-one', 'train'],
      ['double', 'train-and-validation'],
    ]);
    expect(() => augmentation(roleTransform('eval-only', ['test'], (x) => x))).toThrow(/does not declare the 'train' role/);
    expect(() => roleTransform('bad', ['training' as never], (x) => x)).toThrow(/roles: must be a non-empty list of 'train', 'val', 'test', 'oob'/);
  });
});

describe('preprocessors fitted on training rows only', () => {
  it('a leakage canary: a huge constant added to the test rows leaves the fitted statistics unchanged', () => {
    const n = 40;
    const base = Array.from({ length: n }, (_, i) => [i, (i * 37) % 11]);
    const { train, test } = trainTestSplit(n, { testSize: 0.25, seed: 3 });
    const fit = (rows: number[][]) => {
      const prepared = prepareSplits({ x: tf.tensor2d(rows), y: tf.zeros([n]) }, { train, test }, { preprocessors: [standardScaler()] });
      const stats = prepared.fitted[0]!.toJSON();
      const trainMean = Array.from(tf.mean(prepared.train.x, 0).dataSync());
      prepared.dispose();
      return { stats, trainMean };
    };
    const clean = fit(base);
    const poisoned = fit(base.map((r, i) => (test.includes(i) ? r.map((v) => v + 1e6) : r)));
    expect(poisoned.stats).toEqual(clean.stats);
    for (const m of clean.trainMean) expect(Math.abs(m)).toBeLessThan(1e-5);
  });

  it('disposes every tensor it made', () => {
    const x = tf.randomNormal([20, 3]);
    const y = tf.zeros([20]);
    const before = tf.memory().numTensors;
    const prepared = prepareSplits({ x, y }, { train: [0, 1, 2, 3, 4, 5], val: [6, 7], test: [8, 9] }, { preprocessors: [standardScaler()] });
    expect(prepared.val!.x.shape).toEqual([2, 3]);
    prepared.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => prepareSplits({ x, y }, { train: [] })).toThrow(/indices\.train: is empty/);
    expect(() => prepareSplits({ x, y }, { train: [25] })).toThrow(/indices\[0\]: is 25, outside the 20 rows/);
    tf.dispose([x, y]);
  });
});
