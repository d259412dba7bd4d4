import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed, type Plugin, type Trainer } from '@fitstream/core';

/** A small MLP without dropout, built from a fixed seed (identical on every replica before any broadcast). */
export function buildModel(seed = 42): tf.Sequential {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 16, activation: 'tanh' }), tf.layers.dense({ units: 3, activation: 'softmax' })],
    }),
  );
}

/** `n` deterministic samples: 4 features, 3 classes (one-hot); `offset` draws other samples of the same rule. */
export function makeData(n: number, offset = 0): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const xs: number[][] = [];
  const ys: number[][] = [];
  for (let i = offset; i < offset + n; i++) {
    const row = [Math.sin(i * 1.3), Math.cos(i * 0.7), ((i * 37) % 11) / 11 - 0.5, ((i * 17) % 7) / 7 - 0.5];
    xs.push(row);
    const c = (row[0]! + row[2]! > 0 ? 1 : 0) + (row[1]! > 0.3 ? 1 : 0);
    ys.push([0, 1, 2].map((k) => (k === c ? 1 : 0)));
  }
  return { x: tf.tensor2d(xs), y: tf.tensor2d(ys) };
}

export function makeTrainer(model: tf.LayersModel, lr = 0.5): Trainer {
  return createTrainer({ model, optimizer: tf.train.sgd(lr), loss: 'categoricalCrossentropy', seed: 7, backend: 'cpu', log: null });
}

/** The model's weights, flat in sorted-name order. */
export function flatWeights(model: tf.LayersModel): number[] {
  const entries = model.weights.map((w) => [w.name, w.read()] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.flatMap(([, t]) => Array.from(t.dataSync()));
}

/** A plugin that records the learning rate of every step. */
export function lrRecorder(into: number[]): Plugin {
  return {
    name: 'lr-recorder',
    attach: (events$) => {
      const s = events$.subscribe((e) => {
        if (e.type === 'step:end') into.push(e.learningRate);
      });
      return s;
    },
  };
}

export function maxRelativeDifference(a: readonly number[], b: readonly number[]): number {
  let worst = 0;
  const scale = Math.max(1e-3, ...b.map(Math.abs));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return a.length === b.length ? worst : Number.POSITIVE_INFINITY;
}
