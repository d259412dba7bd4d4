import * as tf from '@tensorflow/tfjs';
import { LearningRateMultiplier, provide, type Plugin, type TrainableModel } from '@fitstream/core';
import { selectLayers, type LayerSelector } from '@fitstream/transfer';
import { inputError } from '../input-error.js';

/**
 * Learning-rate factors of layer groups: explicit numbers (one per group), or `{ lowest }` — geometric from `lowest`
 * for the first group to 1 for the last (fastai's `slice(lr/100, lr)` is `{ lowest: 0.01 }`).
 */
export type GroupFactors = readonly number[] | { readonly lowest: number };

/** The factor of each of `groups` groups. */
export function groupFactors(factors: GroupFactors, groups: number, owner: string): number[] {
  if (Array.isArray(factors)) {
    const list = factors as readonly number[];
    if (list.length !== groups) throw inputError(`${owner}: factors has ${list.length} entries for ${groups} layer groups; give one factor per group.`);
    list.forEach((f, i) => {
      if (!Number.isFinite(f) || f < 0) throw inputError(`${owner}: factors[${i}] is ${f}; factors must be finite numbers ≥ 0.`);
    });
    return [...list];
  }
  const { lowest } = factors as { readonly lowest: number };
  if (!Number.isFinite(lowest) || lowest <= 0 || lowest > 1) throw inputError(`${owner}: lowest is ${lowest}; it must be in (0, 1] (e.g. 0.01 for a backbone trained at 1/100 of the head's rate).`);
  if (groups === 1) return [1];
  return Array.from({ length: groups }, (_, i) => lowest ** ((groups - 1 - i) / (groups - 1)));
}

/** The layers model a fine-tuning plugin works on, or an error naming the plugin. */
export function layersModelOf(model: TrainableModel, owner: string): tf.LayersModel {
  if (!(model instanceof tf.LayersModel)) {
    throw inputError(`${owner}: the trainer's model is a FunctionModel; layer groups need a tf.LayersModel (tf.sequential or tf.model).`);
  }
  return model;
}

/**
 * Resolves layer groups to the names of their variables; a layer in two groups is an error (its factor would be
 * ambiguous).
 */
export function groupVariables(model: tf.LayersModel, groups: readonly LayerSelector[], owner: string): string[][] {
  if (groups.length === 0) throw inputError(`${owner}: groups is empty; pass the layer groups from the input to the head.`);
  const seen = new Map<string, number>();
  return groups.map((selector, g) => {
    const layers = selectLayers(model, selector);
    for (const layer of layers) {
      const previous = seen.get(layer.name);
      if (previous !== undefined) throw inputError(`${owner}: layer "${layer.name}" is in groups ${previous} and ${g}; each layer belongs to one group.`);
      seen.set(layer.name, g);
    }
    return layers.flatMap((l) => l.weights.map((w) => (w.read() as tf.Variable).name));
  });
}

/** Options of {@link discriminativeLr}. */
export interface DiscriminativeLrOptions {
  /** Layer groups from the input to the head (see `LayerSelector` of @fitstream/transfer); layers in no group keep factor 1. */
  readonly groups: readonly LayerSelector[];
  /** The factor on the learning rate of each group. */
  readonly factors: GroupFactors;
}

/**
 * Discriminative learning rates (ULMFiT, fastai `slice`): each layer group trains at the optimizer's learning rate ×
 * its factor, so a pretrained backbone moves less than a new head. Works with every tfjs optimizer and with any
 * learning-rate schedule (the factors multiply whatever rate is in force); Adam's moments are those of the unscaled
 * optimizer, as with one optimizer per parameter group in PyTorch.
 *
 * @example
 * ```ts
 * trainer.use(discriminativeLr({ groups: [{ to: 'block3_pool' }, { from: 'block4_conv1', to: 'flatten' }, { last: 2 }], factors: { lowest: 0.01 } }));
 * // factors 0.01, 0.1, 1
 * ```
 */
export function discriminativeLr(options: DiscriminativeLrOptions): Plugin & { readonly factorOf: (variableName: string) => number } {
  const name = 'discriminativeLr';
  const factors = groupFactors(options.factors, options.groups.length, name);
  let byVariable = new Map<string, number>();
  return {
    name,
    factorOf: (variableName) => byVariable.get(variableName) ?? 1,
    register: (container) => provide(container, LearningRateMultiplier, { name, multiplier: (v) => byVariable.get(v.name) ?? 1 }),
    attach: (_events$, control) => {
      const model = layersModelOf(control.model, name);
      byVariable = new Map(groupVariables(model, options.groups, name).flatMap((vars, g) => vars.map((v) => [v, factors[g]!] as const)));
    },
  };
}
