// Test fixtures for this package (not part of the build).
import * as tf from '@tensorflow/tfjs';
import { LossTransform, Random, createTrainer, provide, withSeed, type Plugin } from '@fitstream/core';

/** A small seeded MLP classifier. */
export function mlp(inputs = 3, hidden = 8, classes = 2, seed = 1): tf.Sequential {
  return withSeed(seed, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [inputs], units: hidden, activation: 'relu' }));
    model.add(tf.layers.dense({ units: classes, activation: 'softmax' }));
    return model;
  });
}

/** Separable blobs: `n` samples, one-hot targets. */
export function blobs(n = 64, features = 3, classes = 2, seed = 5): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const r = Random.fromSeed(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => 2 * r.normal()));
  const labels = Array.from({ length: n }, () => r.int(classes));
  const xs = labels.map((c) => centres[c]!.map((m) => m + r.normal()));
  return { x: tf.tensor2d(xs), y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D };
}

/** A trainer on the blobs with the given optimizer and metrics. */
export function smallTrainer(options: { optimizer?: 'sgd' | 'adam'; seed?: number } = {}) {
  return createTrainer({ model: mlp(), optimizer: options.optimizer ?? 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: options.seed ?? 1, backend: 'current', log: null });
}

/** Weights as plain arrays, for exact comparisons. */
export function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

/** A test plugin that multiplies the loss of chosen optimizer steps (a spike), or makes it NaN. */
export function corruptLoss(steps: ReadonlySet<number>, how: 'spike' | 'nan', factor = 1000): Plugin {
  const transform: LossTransform = {
    name: 'corrupt-loss',
    total: (loss, ctx) => (steps.has(ctx.step) ? (how === 'nan' ? tf.mul(loss, tf.scalar(Number.NaN)) : tf.mul(loss, tf.scalar(factor))) as tf.Scalar : loss),
  };
  return { name: 'corrupt-loss', register: (c) => provide(c, LossTransform, transform) };
}

/** A trainer on `model` (seed 1, SGD with learning rate 0.1 or Adam), for the weight-averaging tests. */
export function trainerFor(model: tf.LayersModel, optimizer: 'sgd' | 'adam' = 'sgd') {
  const spec = optimizer === 'sgd' ? ({ name: 'sgd', learningRate: 0.1 } as const) : 'adam';
  return { model, trainer: createTrainer({ model, optimizer: spec, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null }) };
}

/** Averaged weights (a map by name, disposed here) as arrays in the model's weight order. */
export function averagedList(model: tf.LayersModel, averaged: Map<string, tf.Tensor>): number[][] {
  const out = model.weights.map((w) => Array.from(averaged.get(w.originalName)!.dataSync()));
  tf.dispose([...averaged.values()]);
  return out;
}
