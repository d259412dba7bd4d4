import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@fitstream/core';
import { lrFinder } from '../../index.js';
import { exponentialSweep, smoothLosses, steepestIndex } from './lr-finder.js';
import { blobs, mlp, smallTrainer, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

describe('lrFinder helpers', () => {
  it('sweeps exponentially, smooths as fastai (debiased EMA) and picks the steepest descent', () => {
    const lrs = exponentialSweep(1e-4, 1, 5);
    lrs.forEach((v, i) => expect(v).toBeCloseTo([1e-4, 1e-3, 1e-2, 1e-1, 1][i]!, 12));
    expect(smoothLosses([1, 2], 0.5)).toEqual([1, (0.25 + 1) / 0.75]);
    expect(steepestIndex([5, 5, 4.9, 4, 2, 1.9, 1.8, 3, 9], 0, 1)).toBe(3); // np.gradient: (2 − 4.9) / 2 is the steepest
    expect(steepestIndex([1, 2], 0, 1)).toBeUndefined();
  });
});

describe('lrFinder (real sweep)', () => {
  it('sweeps, suggests a rate, plots SVG, and restores weights, optimizer state and learning rate', async () => {
    const trainer = smallTrainer({ optimizer: 'adam' });
    const model = (trainer as unknown as { options: { model: tf.LayersModel } }).options.model;
    const data = blobs(128);
    await trainer.fit(data, { epochs: 1, batchSize: 32, handleSignals: false }); // Adam slots now exist
    const weights = weightsOf(model);
    const slots = (await trainer.optimizer.getWeights()).map((w) => Array.from(w.tensor.dataSync()));
    const lr = trainer.learningRate;
    const tensors = tf.memory().numTensors;

    const result = await lrFinder(trainer, data, { minLr: 1e-5, maxLr: 10, steps: 40, batchSize: 16 });

    expect(result.lrs.length).toBe(result.losses.length);
    expect(result.smoothed.length).toBe(result.losses.length);
    expect(result.lrs[0]).toBeCloseTo(1e-5, 15);
    expect(result.suggestion).toBeGreaterThan(1e-5);
    expect(result.suggestion).toBeLessThan(10);
    expect(result.svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(result.svg).toContain('suggested');
    expect(weightsOf(model)).toEqual(weights);
    expect((await trainer.optimizer.getWeights()).map((w) => Array.from(w.tensor.dataSync()))).toEqual(slots);
    expect(trainer.learningRate).toBe(lr);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensors + 1);
    // The trainer still trains afterwards.
    await trainer.fit(data, { epochs: 1, batchSize: 32, handleSignals: false });
    trainer.dispose();
  });

  it('stops early when the loss diverges, and accepts trainer options instead of a trainer', async () => {
    const result = await lrFinder({ model: mlp(), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 3 }, blobs(64), { minLr: 1e-3, maxLr: 1e6, steps: 60, batchSize: 16 });
    expect(result.diverged).toBe(true);
    expect(result.losses.length).toBeLessThan(60);
  });

  it('validates options naming them', async () => {
    await expect(lrFinder(smallTrainer(), blobs(16), { minLr: 1, maxLr: 0.1 })).rejects.toThrow(/lrFinder: maxLr must be a number > minLr \(1\)/);
  });
});
