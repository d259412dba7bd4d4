import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';

type Layer = tf.layers.Layer;
type CallKwargs = Record<string, unknown>;

/** A layer and the containers (nested models) it sits in, outermost first. */
interface PlacedLayer {
  readonly layer: Layer;
  readonly ancestors: readonly Layer[];
}

function isContainer(layer: Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/** Every leaf layer of `model` (nested models expanded, depth first, in their layer order) with its ancestors. */
export function leafLayers(model: tf.LayersModel): PlacedLayer[] {
  const out: PlacedLayer[] = [];
  const walk = (container: tf.LayersModel, ancestors: readonly Layer[]) => {
    for (const layer of container.layers) {
      if (isContainer(layer)) walk(layer, [...ancestors, layer]);
      else if (layer.getClassName() !== 'InputLayer') out.push({ layer, ancestors });
    }
  };
  walk(model, []);
  return out;
}

const PATCHED = new WeakSet<Layer>();
const ANCESTORS = new WeakMap<Layer, readonly Layer[]>();

/** Whether a batch-normalization layer is frozen: itself or any model it sits in is not trainable. */
function frozen(layer: Layer): boolean {
  return !layer.trainable || (ANCESTORS.get(layer) ?? []).some((a) => !a.trainable);
}

/**
 * Keras semantics for frozen batch normalization (since Keras 2.1.3; tfjs-layers lacks them): a
 * `BatchNormalization` layer whose `trainable` is `false` — or that sits in a nested model whose `trainable` is
 * `false` — normalizes with its moving statistics and leaves them unchanged, even in a training forward pass.
 * Otherwise fine-tuning a frozen backbone on small batches would shift its statistics away from the ones its frozen
 * weights were trained with. Installed once per layer (an instance-level `call`); trainable layers behave exactly
 * as before. The trainer installs it on every `LayersModel` it trains.
 */
export function installFrozenBatchNormInference(model: tf.LayersModel): void {
  for (const { layer, ancestors } of leafLayers(model)) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    ANCESTORS.set(layer, ancestors);
    if (PATCHED.has(layer)) continue;
    // The override is per instance, so the prototype's `call` bound to this layer is the layer's own behaviour.
    const ownCall = (Object.getPrototypeOf(layer) as Layer).call.bind(layer);
    layer.call = ((inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs) => ownCall(inputs, frozen(layer) ? { ...kwargs, training: false } : kwargs)) as Layer['call'];
    PATCHED.add(layer);
  }
}

/** The batch-normalization layers of `model` (nested models included). */
export function batchNormLayers(model: tf.LayersModel): Layer[] {
  return leafLayers(model)
    .map((p) => p.layer)
    .filter((l) => l.getClassName() === 'BatchNormalization');
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
  const layers = batchNormLayers(model).filter((l) => !frozen(l)) as Array<Layer & { momentum: number }>;
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
