// Small seeded models for the checkpoint tests: what a checkpoint holds without a trainer to produce it.
import * as tf from '@tensorflow/tfjs';
import { Random, withSeed } from '@fitstream/util';
import type { CheckpointStateInput } from '../index.js';

/** A small dense classifier with seeded weights. */
export function mlp(inputs: number, hidden: number, classes: number, seed = 1): tf.Sequential {
  return withSeed(seed, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [inputs], units: hidden, activation: 'relu' }));
    model.add(tf.layers.dense({ units: classes, activation: 'softmax' }));
    return model;
  });
}

/** Every weight's values, in `getWeights()` order. */
export function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

/** An mlp and its Adam optimizer after `steps` updates on seeded data, so the optimizer has slots to save. */
export function trained(seed = 4, steps = 2, hidden = 8): { model: tf.Sequential; optimizer: tf.Optimizer } {
  const model = mlp(3, hidden, 2, seed);
  const optimizer = tf.train.adam(0.01);
  const r = Random.fromSeed(seed);
  tf.tidy(() => {
    const x = tf.tensor2d(Array.from({ length: 8 }, () => [r.normal(), r.normal(), r.normal()]));
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 8 }, () => r.int(2)), 'int32'), 2);
    for (let i = 0; i < steps; i++) optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor));
  });
  return { model, optimizer };
}

/** A loop state as a trainer records one (@fitstream/core fills it from its loop), for snapshotCheckpoint. */
export function loopState(step: number): CheckpointStateInput {
  return {
    epoch: 1,
    batch: 0,
    step,
    learningRate: 0.01,
    learningRatePipeline: { initialLr: 0.01, base: 0.01, factors: {} },
    random: Random.fromSeed(5).getState(),
    aggregate: null,
    history: { epochs: [0], logs: { loss: [0.5] } },
    plugins: { counter: { seen: 3 } },
    fit: { epochs: 1, batchSize: 8, accumulateBatches: 1, shuffle: true },
  };
}
