import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { assertLearningRate } from '../learning-rate/optimizer-rate.js';

/** Optimizers by name, with Keras defaults. */
export type OptimizerName = 'sgd' | 'momentum' | 'adam' | 'adamax' | 'rmsprop' | 'adagrad' | 'adadelta';

/** How the trainer's `optimizer` option may be given. */
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

/** The optimizer names, for error messages and schemas. */
export const OPTIMIZER_NAMES = Object.keys(DEFAULT_LR) as OptimizerName[];

/** Builds the optimizer; `owned` tells whether the trainer must dispose it. */
export function resolveOptimizer(spec: OptimizerSpec): { optimizer: tf.Optimizer; owned: boolean } {
  if (spec instanceof tf.Optimizer) return { optimizer: spec, owned: false };
  const name = typeof spec === 'string' ? spec : spec?.name;
  if (!name || !(name in DEFAULT_LR)) {
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
