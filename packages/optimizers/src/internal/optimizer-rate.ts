import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';

/** Throws a {@link FitstreamInputError} naming `what` unless `lr` is a finite number ≥ 0. */
export function assertLearningRate(lr: number, what: string): void {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new FitstreamInputError(what, `must be a finite number ≥ 0 such as 0.001, got ${typeof lr === 'string' ? JSON.stringify(lr) + ' (a string)' : String(lr)}.`);
  }
}

interface WithLearningRate {
  learningRate: number;
  setLearningRate?: (lr: number) => void;
}

/**
 * The learning rate a tfjs optimizer applies now.
 *
 * @example
 * ```ts
 * getLearningRate(tf.train.adam(0.001)); // 0.001
 * ```
 */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as WithLearningRate).learningRate;
  if (typeof lr !== 'number') throw new Error(`Optimizer ${optimizer.getClassName()} has no numeric learningRate; fitstream cannot schedule it.`);
  return lr;
}

/**
 * Changes the learning rate of any tfjs optimizer. SGD and momentum cache `-lr` in a scalar and expose
 * `setLearningRate`; every other tfjs optimizer reads its `learningRate` field on each update. Inside a fit, `@fitstream/core`'s
 * learning-rate pipeline alone writes the rate: provide a `LearningRateBase` or a `LearningRateModifier` instead.
 *
 * @example
 * ```ts
 * const optimizer = tf.train.sgd(0.1);
 * setLearningRate(optimizer, 0.01);
 * ```
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  assertLearningRate(lr, 'learning rate');
  const o = optimizer as unknown as WithLearningRate;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
