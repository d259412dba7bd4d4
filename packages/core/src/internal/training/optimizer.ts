import * as tf from '@tensorflow/tfjs';

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
    throw new Error(`Unknown optimizer "${String(name)}". Use one of ${OPTIMIZER_NAMES.join(', ')}, or pass a tf.train.* instance.`);
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

export function assertLearningRate(lr: number, what: string): void {
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
    throw new RangeError(`${what} must be a finite number ≥ 0, got ${String(lr)}.`);
  }
}

interface WithLearningRate {
  learningRate: number;
  setLearningRate?: (lr: number) => void;
}

/** The learning rate an optimizer applies now. */
export function getLearningRate(optimizer: tf.Optimizer): number {
  const lr = (optimizer as unknown as WithLearningRate).learningRate;
  if (typeof lr !== 'number') throw new Error(`Optimizer ${optimizer.getClassName()} has no numeric learningRate; fitstream cannot schedule it.`);
  return lr;
}

/**
 * Changes the learning rate of any tfjs optimizer. SGD and momentum cache `-lr` in a scalar and expose
 * `setLearningRate`; every other tfjs optimizer reads its `learningRate` field on each update.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  assertLearningRate(lr, 'learning rate');
  const o = optimizer as unknown as WithLearningRate;
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
