/**
 * @fitstream/optimizers — fitstream's optimizers without the trainer, for a training loop of your own: tfjs
 * optimizers by name (`resolveOptimizer`, `OPTIMIZER_NAMES`), one update per step through a fused kernel where a
 * backend registers one under the names in `FUSED_UPDATE_KERNELS` (`applyOptimizerUpdate`, bit-identical to tfjs'
 * `applyGradients`, with centered RMSProp as Keras computes it and optional per-variable learning-rate factors), the
 * learning rate read and set on any tfjs optimizer (`getLearningRate`, `setLearningRate`), and slot alignment for
 * frozen layers and restored optimizers (`alignOptimizerSlots`, `renameOptimizerSlots`), and `disposeOptimizer`, which
 * frees what tfjs' own `dispose` leaves behind. Depends on `@tensorflow/tfjs`
 * (a peer) and `@fitstream/util` only.
 *
 * @packageDocumentation
 */
export { OPTIMIZER_NAMES, resolveOptimizer } from './internal/optimizer-by-name.js';
export type { OptimizerName, OptimizerSpec } from './internal/optimizer-by-name.js';

export { applyOptimizerUpdate, usesFusedUpdate, FUSED_UPDATE_KERNELS } from './internal/apply-optimizer-update.js';
export type { LearningRateScale } from './internal/apply-optimizer-update.js';

export { getLearningRate, setLearningRate } from './internal/optimizer-rate.js';
export { disposeOptimizer } from './internal/dispose-optimizer.js';

export { alignOptimizerSlots, renameOptimizerSlots } from './internal/align-optimizer-slots.js';
