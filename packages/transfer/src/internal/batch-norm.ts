import * as tf from '@tensorflow/tfjs';
import { installFrozenBatchNormInference, isFrozen, leafLayers } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';

type Layer = tf.layers.Layer;

const isBatchNorm = (layer: Layer) => layer.getClassName() === 'BatchNormalization';

/**
 * The batch-normalization layers of `model` (nested models included), e.g. to tell their moving statistics from the
 * weights an average should cover.
 *
 * @example
 * ```ts
 * const statistics = batchNormLayers(model).flatMap((l) => l.weights.filter((w) => /moving_/.test(w.name)));
 * ```
 */
export function batchNormLayers(model: tf.LayersModel): Layer[] {
  return leafLayers(model)
    .map((p) => p.layer)
    .filter(isBatchNorm);
}

/** Options of {@link updateBatchNormStatistics}. */
export interface UpdateBatchNormOptions {
  /** Batch size of the pass over `x` (default 64). */
  readonly batchSize?: number;
}

/**
 * Recomputes the moving mean and variance of every batch-normalization layer of `model` from one pass over `x`, as
 * PyTorch's `torch.optim.swa_utils.update_bn` does: the statistics are reset, then each layer's moving values become
 * the exact cumulative average of the per-batch statistics (momentum (k−1)/k at batch k). Needed after weight
 * averaging (SWA, EMA), since the averaged weights were never trained with the running statistics of any single
 * model. Frozen layers are left as they are. Weights other than the statistics are unchanged. Returns the layers
 * updated.
 *
 * @example
 * ```ts
 * updateBatchNormStatistics(model, xTrain, { batchSize: 128 });
 * ```
 */
export function updateBatchNormStatistics(model: tf.LayersModel, x: tf.Tensor | readonly tf.Tensor[], options: UpdateBatchNormOptions = {}): string[] {
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new FitstreamInputError('options.batchSize', `must be a positive integer; got ${batchSize}.`);
  const inputs = x instanceof tf.Tensor ? [x] : [...x];
  const n = inputs[0]?.shape[0] ?? 0;
  if (n === 0) throw new FitstreamInputError('x', 'is empty; pass the training inputs to recompute batch-normalization statistics.');
  installFrozenBatchNormInference(model);
  const layers = leafLayers(model)
    .filter((p) => isBatchNorm(p.layer) && !isFrozen(p))
    .map((p) => p.layer) as Array<Layer & { momentum: number }>;
  if (layers.length === 0) return [];
  const momenta = layers.map((l) => l.momentum);
  try {
    const batches = Math.ceil(n / batchSize);
    for (let k = 0; k < batches; k++) {
      // Momentum (k)/(k+1) at the (k+1)-th batch: moving = k/(k+1)·moving + 1/(k+1)·batch, the running mean of all
      // batches so far (the first batch replaces the old statistics, so no reset to 0/1 is needed).
      for (const l of layers) l.momentum = k / (k + 1);
      tf.tidy(() => {
        const start = k * batchSize;
        const size = Math.min(batchSize, n - start);
        const slices = inputs.map((t) => t.slice(start, size));
        model.apply(slices.length === 1 ? slices[0]! : slices, { training: true });
      });
    }
  } finally {
    layers.forEach((l, i) => (l.momentum = momenta[i]!));
  }
  return layers.map((l) => l.name);
}
