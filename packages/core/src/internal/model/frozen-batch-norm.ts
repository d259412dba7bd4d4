import type * as tf from '@tensorflow/tfjs';
import { isFrozen, leafLayers } from './leaf-layers.js';

type Layer = tf.layers.Layer;
type CallKwargs = Record<string, unknown>;

const PATCHED = new WeakSet<Layer>();
const ANCESTORS = new WeakMap<Layer, readonly Layer[]>();

/**
 * Keras semantics for frozen batch normalization (since Keras 2.1.3; tfjs-layers lacks them): a
 * `BatchNormalization` layer whose `trainable` is `false` — or that sits in a nested model whose `trainable` is
 * `false` — normalizes with its moving statistics and leaves them unchanged, even in a training forward pass.
 * Otherwise fine-tuning a frozen backbone on small batches would shift its statistics away from the ones its frozen
 * weights were trained with. Installed once per layer (an instance-level `call`); trainable layers behave exactly
 * as before. The trainer installs it on every `LayersModel` it trains; the freezing helpers of
 * `@fitstream/transfer` install it too.
 *
 * @example
 * ```ts
 * backbone.trainable = false;
 * installFrozenBatchNormInference(model); // the backbone's batch-norm layers now keep their statistics
 * ```
 */
export function installFrozenBatchNormInference(model: tf.LayersModel): void {
  for (const { layer, ancestors } of leafLayers(model)) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    // Trainability is read at call time, so freezing after the install takes effect; the ancestors are the layer's
    // place in the model last installed on.
    ANCESTORS.set(layer, ancestors);
    if (PATCHED.has(layer)) continue;
    // The override is per instance, so the prototype's `call` bound to this layer is the layer's own behaviour.
    const ownCall = (Object.getPrototypeOf(layer) as Layer).call.bind(layer);
    const frozen = () => isFrozen({ layer, ancestors: ANCESTORS.get(layer) ?? [] });
    layer.call = ((inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs) => ownCall(inputs, frozen() ? { ...kwargs, training: false } : kwargs)) as Layer['call'];
    PATCHED.add(layer);
  }
}
