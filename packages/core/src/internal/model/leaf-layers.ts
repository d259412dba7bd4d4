import * as tf from '@tensorflow/tfjs';

/** A leaf layer of a model and the containers (nested models) it sits in, outermost first. */
export interface LeafLayer {
  readonly layer: tf.layers.Layer;
  readonly ancestors: readonly tf.layers.Layer[];
}

/**
 * Every leaf layer of `model` — nested models (a pretrained backbone used as one layer) expanded depth first, in their
 * layer order, input layers left out — with the nested models it sits in. Checkpoints name weights in this order,
 * and `@fitstream/transfer`'s layer selectors count these layers.
 *
 * @example
 * ```ts
 * for (const { layer, ancestors } of leafLayers(model)) console.log([...ancestors, layer].map((l) => l.name).join('/'));
 * ```
 */
export function leafLayers(model: tf.LayersModel): LeafLayer[] {
  const out: LeafLayer[] = [];
  const walk = (container: tf.LayersModel, ancestors: readonly tf.layers.Layer[]) => {
    for (const layer of container.layers) {
      if (layer instanceof tf.LayersModel) walk(layer, [...ancestors, layer]);
      else if (layer.getClassName() !== 'InputLayer') out.push({ layer, ancestors });
    }
  };
  walk(model, []);
  return out;
}

/**
 * Whether a leaf layer is frozen (Keras semantics): its own `trainable` is `false`, or that of a nested model it sits in.
 *
 * @example
 * ```ts
 * const frozen = leafLayers(model).filter(isFrozen).map(({ layer }) => layer.name);
 * ```
 */
export function isFrozen(leaf: LeafLayer): boolean {
  return !leaf.layer.trainable || leaf.ancestors.some((a) => !a.trainable);
}
