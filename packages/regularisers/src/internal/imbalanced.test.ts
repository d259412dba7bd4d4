import * as tf from '@tensorflow/tfjs';
import { Random, createTrainer, withSeed, type LossSpec, type Plugin } from '@fitstream/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpu } from '../test-support/fixtures.js';
import { initOutputBias } from './init/output-bias.js';
import { classWeights } from './loss/class-weights.js';
import { binaryFocalCrossentropy } from './loss/focal.js';

beforeAll(cpu);

/** A 1:50 problem: negatives ~ N(0, I), positives ~ N(1.8·1, I) in 2-D. */
function imbalanced(negatives: number, positives: number, seed: number) {
  const r = Random.fromSeed(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < negatives + positives; i++) {
    const positive = i >= negatives;
    rows.push([r.normal() + (positive ? 1.8 : 0), r.normal() + (positive ? 1.8 : 0)]);
    labels.push(positive ? 1 : 0);
  }
  return { x: tf.tensor2d(rows), y: tf.tensor2d(labels, [labels.length, 1]), labels };
}

const train = imbalanced(2500, 50, 1);
const test = imbalanced(5000, 100, 2);

async function minorityRecall(options: { loss?: LossSpec; plugins?: Plugin[]; bias?: boolean } = {}): Promise<number> {
  const model = withSeed(3, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: 'sigmoid' })] }));
  if (options.bias) initOutputBias(model, { labels: train.labels });
  const trainer = createTrainer({ model, optimizer: tf.train.adam(0.05), loss: options.loss ?? 'binaryCrossentropy', seed: 4, backend: 'current', log: null });
  for (const p of options.plugins ?? []) trainer.use(p);
  await trainer.fit({ x: train.x, y: train.y }, { epochs: 12, batchSize: 128, handleSignals: false });
  const predicted = tf.tidy(() => (model.predict(test.x) as tf.Tensor).greater(0.5).reshape([-1]).dataSync());
  let hits = 0;
  test.labels.forEach((l, i) => (hits += l === 1 && predicted[i] ? 1 : 0));
  model.dispose();
  return hits / 100;
}

describe('a 1:50 imbalanced problem', () => {
  it('class weights and focal loss raise minority recall well above the unweighted baseline', async () => {
    const baseline = await minorityRecall();
    const balanced = await minorityRecall({ plugins: [classWeights('balanced', { labels: train.labels })] });
    const focal = await minorityRecall({ loss: binaryFocalCrossentropy({ gamma: 2, alpha: 0.95 }), bias: true });
    console.log(`minority recall: unweighted ${baseline}, balanced class weights ${balanced}, focal (γ=2, α=0.95) ${focal}`);
    expect(baseline).toBeLessThan(0.35);
    expect(balanced).toBeGreaterThan(baseline + 0.4);
    expect(focal).toBeGreaterThan(baseline + 0.4);
  });
});
