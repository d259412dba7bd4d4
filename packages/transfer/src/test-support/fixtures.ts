// Test fixtures of the transfer tests (not part of the package build).
import * as tf from '@tensorflow/tfjs';
import { Random } from '@fitstream/util';

/** Small classification data: `n` samples, `features` features, `classes` classes, one-hot targets. */
export function classificationData(n: number, features: number, classes: number, seed = 5): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const r = Random.fromSeed(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: features }, () => 2 * r.normal()));
  const labels = Array.from({ length: n }, () => r.int(classes));
  const xs = labels.map((c) => centres[c]!.map((m) => m + r.normal()));
  return { x: tf.tensor2d(xs), y: tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D, labels };
}
