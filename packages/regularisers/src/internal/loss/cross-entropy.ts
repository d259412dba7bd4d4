import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, type PerSampleLoss } from '@fitstream/core';
import { probability } from '../assert.js';

/** Keras' `backend.epsilon()`: probabilities are clipped to `[ε, 1 − ε]` before a log. */
export const EPSILON = 1e-7;

/** A loss for core's `loss` option: `{ name, fn }` with `fn` returning one value per sample. */
export interface LossFunction {
  readonly name: string;
  readonly fn: PerSampleLoss;
}

/** Options of the cross-entropy factories. */
export interface CrossEntropyOptions {
  /** The model outputs logits (no sigmoid/softmax); the loss is then computed stably from them. Default `false`. */
  readonly fromLogits?: boolean;
  /** Label smoothing ε in [0, 1): binary `y(1−ε) + ε/2`, categorical `y(1−ε) + ε/K` (Keras, tfjs-core). Default 0. */
  readonly labelSmoothing?: number;
}

/** Mean over every axis but the first: `[batch, …] → [batch]`. */
export function perSample(t: tf.Tensor): tf.Tensor1D {
  return t.rank === 1 ? (t as tf.Tensor1D) : (tf.mean(tf.reshape(t, [t.shape[0]!, -1]), 1) as tf.Tensor1D);
}

/**
 * Label smoothing, Keras formulas: `'categorical'` → `y(1−ε) + ε/K` over the last axis (rows still sum to 1),
 * `'binary'` → `y(1−ε) + ε/2`.
 *
 * @example
 * ```ts
 * smoothLabels(tf.tensor2d([[0, 1, 0]]), 0.3, 'categorical'); // [[0.1, 0.8, 0.1]]
 * ```
 */
export function smoothLabels(y: tf.Tensor, epsilon: number, kind: 'binary' | 'categorical'): tf.Tensor {
  if (epsilon === 0) return y;
  const classes = kind === 'binary' ? 2 : y.shape[y.rank - 1]!;
  return tf.tidy(() => tf.add(tf.mul(tf.cast(y, 'float32'), 1 - epsilon), epsilon / classes));
}

/** `log p` and `log(1 − p)` of a sigmoid output, stable for any logit (or from clipped probabilities). */
export function binaryLogProbabilities(yPred: tf.Tensor, fromLogits: boolean): { logP: tf.Tensor; log1mP: tf.Tensor } {
  if (fromLogits) {
    // softplus(x) = max(x, 0) + log(1 + e^−|x|): no overflow at ±50 or beyond.
    const softplus = (x: tf.Tensor) => tf.add(tf.relu(x), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
    return { logP: tf.neg(softplus(tf.neg(yPred))), log1mP: tf.neg(softplus(yPred)) };
  }
  const q = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
  return { logP: tf.log(q), log1mP: tf.log(tf.sub(1, q)) };
}

/**
 * Element-wise binary cross-entropy `−(y log p + (1 − y) log(1 − p))` of label-smoothed targets, with the smoothed
 * targets and log-probabilities it used (binary focal loss builds on them).
 */
export function binaryCrossentropyTerms(yTrue: tf.Tensor, yPred: tf.Tensor, epsilon: number, fromLogits: boolean): { y: tf.Tensor; logP: tf.Tensor; log1mP: tf.Tensor; loss: tf.Tensor } {
  const y = smoothLabels(tf.cast(yTrue, 'float32'), epsilon, 'binary');
  const { logP, log1mP } = binaryLogProbabilities(yPred, fromLogits);
  return { y, logP, log1mP, loss: tf.neg(tf.add(tf.mul(y, logP), tf.mul(tf.sub(1, y), log1mP))) };
}

/** `log p` of a softmax output over the last axis, stable from logits (or from normalised, clipped probabilities). */
export function categoricalLogProbabilities(yPred: tf.Tensor, fromLogits: boolean): tf.Tensor {
  if (fromLogits) return tf.logSoftmax(yPred);
  return tf.log(tf.clipByValue(tf.div(yPred, tf.sum(yPred, -1, true)), EPSILON, 1 - EPSILON));
}

/** Sparse labels (`[batch]` or `[batch, 1]`) as one-hot of `yPred`'s shape; one-hot targets pass through. */
export function oneHotLike(yTrue: tf.Tensor, yPred: tf.Tensor, where: string): tf.Tensor {
  if (tf.util.arraysEqual(yTrue.shape, yPred.shape)) return tf.cast(yTrue, 'float32');
  const classes = yPred.shape[yPred.rank - 1]!;
  const sparse = yTrue.rank === yPred.rank - 1 || (yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === 1);
  if (!sparse) throw new FitstreamInputError(where, `targets of shape [${yTrue.shape.join(', ')}] match neither the predictions [${yPred.shape.join(', ')}] (one-hot) nor sparse class indices.`);
  return tf.reshape(tf.oneHot(tf.cast(tf.reshape(yTrue, [-1]), 'int32'), classes), yPred.shape);
}

function options(o: CrossEntropyOptions, where: string): { fromLogits: boolean; epsilon: number } {
  if (o == null || typeof o !== 'object') throw new FitstreamInputError(where, 'options must be an object, e.g. { labelSmoothing: 0.1 }.');
  return { fromLogits: o.fromLogits === true, epsilon: probability(o.labelSmoothing ?? 0, `${where}: labelSmoothing`) };
}

/**
 * Binary cross-entropy with optional label smoothing, for `createTrainer({ loss })`. Per sample: the mean over the
 * outputs of `−[y·log p + (1−y)·log(1−p)]` with smoothed `y`; from logits it never overflows.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: binaryCrossentropy({ labelSmoothing: 0.1 }), metrics: ['binaryAccuracy'] });
 * ```
 */
export function binaryCrossentropy(o: CrossEntropyOptions = {}): LossFunction {
  const { fromLogits, epsilon } = options(o, 'binaryCrossentropy');
  return {
    name: 'binaryCrossentropy',
    fn: (yTrue, yPred) => tf.tidy(() => perSample(binaryCrossentropyTerms(yTrue, yPred, epsilon, fromLogits).loss)),
  };
}

/**
 * Categorical cross-entropy with optional label smoothing (`y(1−ε) + ε/K`), for `createTrainer({ loss })`. Accepts
 * one-hot or sparse targets. From logits it uses `logSoftmax`.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: categoricalCrossentropy({ labelSmoothing: 0.1 }), metrics: ['categoricalAccuracy'] });
 * ```
 */
export function categoricalCrossentropy(o: CrossEntropyOptions = {}): LossFunction {
  const { fromLogits, epsilon } = options(o, 'categoricalCrossentropy');
  return {
    name: 'categoricalCrossentropy',
    fn: (yTrue, yPred) =>
      tf.tidy(() => {
        const y = smoothLabels(oneHotLike(yTrue, yPred, 'categoricalCrossentropy'), epsilon, 'categorical');
        return perSample(tf.neg(tf.sum(tf.mul(y, categoricalLogProbabilities(yPred, fromLogits)), -1)));
      }),
  };
}

