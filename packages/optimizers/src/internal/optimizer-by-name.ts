/**
 * Optimizers by name. The names and learning rates are those `model.compile({ optimizer: 'adam' })` gives in
 * tfjs-layers (early Keras' defaults; tf.keras since TensorFlow 2 and Keras 3 take 0.001 for Adamax, Adagrad and
 * Adadelta), so a trainer given `'adam'` starts where `model.fit` would; `momentum` (not a tfjs-layers name) is SGD with
 * momentum 0.9 at SGD's rate. Every other hyper-parameter is tfjs' default, which is Keras' (epsilon 1e-7 included).
 */
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { assertLearningRate } from './optimizer-rate.js';

/** Optimizers by name, with the defaults of tfjs-layers' `model.compile`. */
export type OptimizerName = 'sgd' | 'momentum' | 'adam' | 'adamax' | 'rmsprop' | 'adagrad' | 'adadelta';

/**
 * How an optimizer may be given (the trainer's `optimizer` option): a tfjs optimizer instance, a name, or a name with
 * a learning rate.
 */
export type OptimizerSpec = tf.Optimizer | OptimizerName | { readonly name: OptimizerName; readonly learningRate?: number };

const DEFAULT_LR: Record<OptimizerName, number> = {
  sgd: 0.01,
  momentum: 0.01,
  adam: 0.001,
  adamax: 0.002,
  rmsprop: 0.001,
  adagrad: 0.01,
  adadelta: 1.0,
};

/**
 * The optimizer names, for error messages and schemas.
 *
 * @example
 * ```ts
 * OPTIMIZER_NAMES; // ['sgd', 'momentum', 'adam', 'adamax', 'rmsprop', 'adagrad', 'adadelta']
 * ```
 */
export const OPTIMIZER_NAMES = Object.keys(DEFAULT_LR) as OptimizerName[];

/** Object.hasOwn, not `in`: 'constructor' or 'toString' is no optimizer. */
function isOptimizerName(name: unknown): name is OptimizerName {
  return typeof name === 'string' && Object.hasOwn(DEFAULT_LR, name);
}

/**
 * Builds the optimizer `spec` names; an instance is returned as it is. `owned` tells whether the caller created it
 * here and so must dispose it (`optimizer.dispose()`) when done; an instance given by the user stays the user's.
 * Throws a {@link FitstreamInputError} for an unknown name (argument `optimizer`) or a learning rate that is not a
 * finite number ≥ 0 (argument `optimizer.learningRate`).
 *
 * @example
 * ```ts
 * const { optimizer, owned } = resolveOptimizer({ name: 'adam', learningRate: 0.01 }); // tf.AdamOptimizer, owned: true
 * resolveOptimizer(tf.train.sgd(0.1));                                                 // that instance, owned: false
 * ```
 */
export function resolveOptimizer(spec: OptimizerSpec): { optimizer: tf.Optimizer; owned: boolean } {
  // tf.Optimizer's instanceof reads properties of its operand (a duck-typed Symbol.hasInstance): guard null first.
  if (spec != null && spec instanceof tf.Optimizer) return { optimizer: spec, owned: false };
  const name = typeof spec === 'string' ? spec : (spec as { name?: unknown } | null | undefined)?.name;
  if (!isOptimizerName(name)) {
    throw new FitstreamInputError('optimizer', `unknown optimizer "${String(name)}". Use one of ${OPTIMIZER_NAMES.join(', ')}, or pass a tf.train.* instance.`);
  }
  const lr = typeof spec === 'object' && spec.learningRate !== undefined ? spec.learningRate : DEFAULT_LR[name];
  assertLearningRate(lr, 'optimizer.learningRate');
  const optimizer = {
    sgd: () => tf.train.sgd(lr),
    momentum: () => tf.train.momentum(lr, 0.9),
    adam: () => tf.train.adam(lr),
    adamax: () => tf.train.adamax(lr),
    rmsprop: () => tf.train.rmsprop(lr),
    adagrad: () => tf.train.adagrad(lr),
    adadelta: () => tf.train.adadelta(lr),
  }[name]();
  return { optimizer, owned: true };
}
