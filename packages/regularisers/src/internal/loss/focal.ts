import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { assertNumber, nonNegative, probability } from '../assert.js';
import {
  EPSILON,
  binaryCrossentropyTerms,
  categoricalLogProbabilities,
  oneHotLike,
  perSample,
  smoothLabels,
  type CrossEntropyOptions,
  type LossFunction,
} from './cross-entropy.js';

/** Options of {@link binaryFocalCrossentropy}. */
export interface BinaryFocalOptions extends CrossEntropyOptions {
  /** The focusing parameter γ ≥ 0 (default 2; 0 gives plain binary cross-entropy). */
  readonly gamma?: number;
  /**
   * α ∈ [0, 1] multiplies the loss of the **positive** class (y = 1) and `1 − α` that of the negative class (Lin et al.;
   * torchvision `sigmoid_focal_loss`; Keras with `apply_class_balancing=True`). Omitted: no α weighting at all (Keras'
   * default `apply_class_balancing=False`). The paper's 0.25 *down*-weights the rare positives because γ already
   * down-weights the easy negatives; to up-weight a rare positive class on its own, use α > 0.5.
   */
  readonly alpha?: number;
}

/** Options of {@link categoricalFocalCrossentropy}. */
export interface CategoricalFocalOptions extends CrossEntropyOptions {
  /** The focusing parameter γ ≥ 0 (default 2; 0 gives plain categorical cross-entropy). */
  readonly gamma?: number;
  /** α per class (a vector of length K) or one α for every class (a plain scale, as Keras' scalar). Omitted: 1. */
  readonly alpha?: number | readonly number[];
}

/** `log(a + b)` from `log a` and `log b`; exact when one of them is −∞ (a hard label). */
function logAddExp(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.add(tf.maximum(a, b), tf.log1p(tf.exp(tf.neg(tf.abs(tf.sub(a, b))))));
}

/**
 * Binary focal loss (Lin et al. 2017): `FL = −α_t (1 − p_t)^γ log p_t`, per output, averaged over a sample's outputs.
 * `p_t = p` for y = 1 and `1 − p` for y = 0; with label smoothing, `p_t = y·p + (1−y)(1−p)` and the log term is the
 * smoothed cross-entropy (Keras `BinaryFocalCrossentropy`). From logits, `log p`, `log(1 − p)` and `log(1 − p_t)` are
 * computed in log space, so the loss and its gradient stay finite at any logit. γ = 0 without α is binary
 * cross-entropy.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: binaryFocalCrossentropy({ gamma: 2, alpha: 0.25, fromLogits: true }) });
 * ```
 */
export function binaryFocalCrossentropy(options: BinaryFocalOptions = {}): LossFunction {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError('binaryFocalCrossentropy', 'options must be an object, e.g. { gamma: 2 }.');
  const gamma = nonNegative(options.gamma ?? 2, 'binaryFocalCrossentropy: gamma');
  const alpha = options.alpha === undefined ? undefined : assertNumber(options.alpha, 'binaryFocalCrossentropy: alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  const epsilon = probability(options.labelSmoothing ?? 0, 'binaryFocalCrossentropy: labelSmoothing');
  const fromLogits = options.fromLogits === true;
  return {
    name: 'binaryFocalCrossentropy',
    fn: (yTrue, yPred) =>
      tf.tidy(() => {
        const { y, logP, log1mP, loss: crossEntropy } = binaryCrossentropyTerms(yTrue, yPred, epsilon, fromLogits);
        let loss = crossEntropy;
        if (gamma !== 0) {
          // 1 − p_t = y(1 − p) + (1 − y)p, in log space: log(y) + log(1 − p) ⊕ log(1 − y) + log p.
          const log1mPt = logAddExp(tf.add(tf.log(y), log1mP), tf.add(tf.log(tf.sub(1, y)), logP));
          loss = tf.mul(tf.exp(tf.mul(gamma, log1mPt)), loss);
        }
        if (alpha !== undefined) loss = tf.mul(tf.add(tf.mul(y, alpha), tf.mul(tf.sub(1, y), 1 - alpha)), loss);
        return perSample(loss);
      }),
  };
}

/**
 * Categorical focal loss (Keras `CategoricalFocalCrossentropy`): per sample `Σ_c −α_c (1 − p_c)^γ y_c log p_c`, with
 * one-hot or sparse targets and optional label smoothing. From logits `log p` is `logSoftmax` (stable at any logit);
 * `(1 − p)` is floored at 1e-7 before the power so its gradient stays finite when `p` rounds to 1. γ = 0 without α
 * is categorical cross-entropy.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: categoricalFocalCrossentropy({ gamma: 2, alpha: [0.25, 0.25, 0.5] }) });
 * ```
 */
export function categoricalFocalCrossentropy(options: CategoricalFocalOptions = {}): LossFunction {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError('categoricalFocalCrossentropy', 'options must be an object, e.g. { gamma: 2 }.');
  const gamma = nonNegative(options.gamma ?? 2, 'categoricalFocalCrossentropy: gamma');
  const epsilon = probability(options.labelSmoothing ?? 0, 'categoricalFocalCrossentropy: labelSmoothing');
  const fromLogits = options.fromLogits === true;
  const alpha = options.alpha;
  if (alpha !== undefined) {
    const list = typeof alpha === 'number' ? [alpha] : alpha;
    if (!Array.isArray(list) || list.length === 0) throw new FitstreamInputError('categoricalFocalCrossentropy: alpha', 'must be a number or a non-empty array of per-class numbers.');
    list.forEach((a, i) => nonNegative(a, `categoricalFocalCrossentropy: alpha[${i}]`));
  }
  return {
    name: 'categoricalFocalCrossentropy',
    fn: (yTrue, yPred) =>
      tf.tidy(() => {
        const classes = yPred.shape[yPred.rank - 1]!;
        const y = smoothLabels(oneHotLike(yTrue, yPred, 'categoricalFocalCrossentropy'), epsilon, 'categorical');
        const logP = categoricalLogProbabilities(yPred, fromLogits);
        let loss = tf.neg(tf.mul(y, logP));
        if (gamma !== 0) loss = tf.mul(tf.pow(tf.maximum(tf.sub(1, tf.exp(logP)), EPSILON), gamma), loss);
        if (alpha !== undefined) {
          if (typeof alpha !== 'number' && alpha.length !== classes) {
            throw new FitstreamInputError('categoricalFocalCrossentropy: alpha', `has ${alpha.length} entries but the model predicts ${classes} classes.`);
          }
          loss = tf.mul(typeof alpha === 'number' ? tf.scalar(alpha) : tf.tensor1d([...alpha]), loss);
        }
        return perSample(tf.sum(loss, -1));
      }),
  };
}
