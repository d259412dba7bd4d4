import * as tf from '@tensorflow/tfjs';

/**
 * Disposes an optimizer and everything it holds. tfjs 4.22's `MomentumOptimizer.dispose()` frees its slots and
 * momentum scalar but not the −learning-rate scalar its `SGDOptimizer` base class caches (`c`), so every momentum
 * optimizer disposed through tfjs alone leaks one tensor; this frees it too. Other optimizers are disposed as tfjs does.
 *
 * @example
 * ```ts
 * const optimizer = tf.train.momentum(0.01, 0.9);
 * disposeOptimizer(optimizer); // tf.memory().numTensors back where it was
 * ```
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  if (optimizer instanceof tf.MomentumOptimizer) {
    const cached = (optimizer as unknown as { c?: tf.Scalar }).c;
    if (cached !== undefined && !cached.isDisposed) cached.dispose();
  }
}
