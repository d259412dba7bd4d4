import type * as tf from '@tensorflow/tfjs';
import { installFrozenBatchNormInference, leafLayers } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';

/**
 * Which layers of a model: selectors work on the model's *leaf* layers — nested models (a pretrained backbone used
 * as one layer) are expanded depth first, input layers left out — so "the last 3 layers" means the same whether
 * the backbone was nested or not. Indices count those leaf layers from 0; negative indices count from the end.
 *
 * - a number: one layer by index; a string: the layer with exactly that name (`'all'`: every layer); a `RegExp`:
 *   every layer whose name matches;
 * - `{ first: n }`, `{ last: n }`, `{ allButLast: n }` ("all but the head");
 * - `{ from, to }`: an inclusive range, each end an index or a layer name (either may be left out);
 * - a predicate `(layer, index) => boolean`; an array: the union of its selectors.
 */
export type LayerSelector =
  | number
  | string
  | RegExp
  | { readonly first: number }
  | { readonly last: number }
  | { readonly allButLast: number }
  | { readonly from?: number | string; readonly to?: number | string }
  | ((layer: tf.layers.Layer, index: number) => boolean)
  | readonly LayerSelector[];

/** The leaf layers of `model` in order (nested models expanded, input layers left out). */
export function modelLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return leafLayers(model).map((p) => p.layer);
}

function describe(layers: readonly tf.layers.Layer[]): string {
  const names = layers.map((l) => l.name);
  return names.length <= 12 ? names.join(', ') : `${names.slice(0, 6).join(', ')}, …, ${names.slice(-5).join(', ')}`;
}

function countOf(value: unknown, what: string, total: number): number {
  if (!Number.isInteger(value) || (value as number) < 0) throw new FitstreamInputError('selector', `{ ${what} } needs a non-negative integer; got ${String(value)}.`);
  return Math.min(value as number, total);
}

function indexOf(layers: readonly tf.layers.Layer[], at: number | string, argument: string): number {
  if (typeof at === 'string') {
    const i = layers.findIndex((l) => l.name === at);
    if (i < 0) throw new FitstreamInputError(argument, `names no layer "${at}"; the model's layers are ${describe(layers)}.`);
    return i;
  }
  const i = at < 0 ? layers.length + at : at;
  if (!Number.isInteger(at) || i < 0 || i >= layers.length) {
    throw new FitstreamInputError(argument, `index ${at} is outside the model's ${layers.length} layers (0 to ${layers.length - 1}, or negative from the end).`);
  }
  return i;
}

function matches(selector: LayerSelector, layers: readonly tf.layers.Layer[]): Set<number> {
  const all = layers.map((_, i) => i);
  const out = new Set<number>();
  const add = (is: readonly number[]) => is.forEach((i) => out.add(i));
  if (Array.isArray(selector)) {
    for (const s of selector as readonly LayerSelector[]) add([...matches(s, layers)]);
  } else if (selector === 'all') add(all);
  else if (typeof selector === 'number' || typeof selector === 'string') add([indexOf(layers, selector, 'selector')]);
  else if (selector instanceof RegExp) add(all.filter((i) => selector.test(layers[i]!.name)));
  else if (typeof selector === 'function') add(all.filter((i) => selector(layers[i]!, i)));
  else if ('first' in selector) add(all.slice(0, countOf(selector.first, 'first', layers.length)));
  else if ('last' in selector) add(all.slice(layers.length - countOf(selector.last, 'last', layers.length)));
  else if ('allButLast' in selector) add(all.slice(0, layers.length - countOf(selector.allButLast, 'allButLast', layers.length)));
  else if ('from' in selector || 'to' in selector) {
    const from = selector.from === undefined ? 0 : indexOf(layers, selector.from, 'selector.from');
    const to = selector.to === undefined ? layers.length - 1 : indexOf(layers, selector.to, 'selector.to');
    if (from > to) throw new FitstreamInputError('selector', `{ from: ${String(selector.from)}, to: ${String(selector.to)} } is empty: "${layers[from]!.name}" comes after "${layers[to]!.name}".`);
    add(all.slice(from, to + 1));
  } else {
    throw new FitstreamInputError('selector', 'must be an index, a name, a RegExp, "all", { first }, { last }, { allButLast }, { from, to }, a predicate or an array of these.');
  }
  return out;
}

/**
 * The leaf layers of `model` chosen by `selector`, in model order. A selector that matches nothing is an error
 * (a misspelt pattern would otherwise freeze nothing, silently).
 *
 * @example
 * ```ts
 * selectLayers(model, /^block[45]_/);        // two blocks of a backbone, by name
 * selectLayers(model, { allButLast: 1 });    // everything but the head
 * ```
 */
export function selectLayers(model: tf.LayersModel, selector: LayerSelector): tf.layers.Layer[] {
  const layers = modelLayers(model);
  const chosen = matches(selector, layers);
  if (chosen.size === 0) throw new FitstreamInputError('selector', `matches none of the model's layers (${describe(layers)}).`);
  return [...chosen].sort((a, b) => a - b).map((i) => layers[i]!);
}

function setTrainable(model: tf.LayersModel, selector: LayerSelector, trainable: boolean): string[] {
  const chosen = selectLayers(model, selector);
  // A nested model the user froze as a whole (`backbone.trainable = false`) hides its layers from training whatever
  // their own flags: unfreezing one of its layers unfreezes the container, and freezes its other layers instead.
  if (trainable) {
    for (const { layer, ancestors } of leafLayers(model)) {
      if (!chosen.includes(layer)) continue;
      for (const a of ancestors) {
        if (a.trainable) continue;
        for (const sibling of leafLayers(a as tf.LayersModel)) sibling.layer.trainable = false;
        a.trainable = true;
      }
    }
  }
  for (const layer of chosen) layer.trainable = trainable;
  installFrozenBatchNormInference(model);
  return chosen.map((l) => l.name);
}

/**
 * Freezes the chosen layers: their weights stop training at the next step and batch-normalization layers among
 * them normalize with their moving statistics (Keras semantics). Returns the names of the layers frozen.
 *
 * @example
 * ```ts
 * freezeLayers(model, { allButLast: 1 }); // train the head only
 * ```
 */
export function freezeLayers(model: tf.LayersModel, selector: LayerSelector): string[] {
  return setTrainable(model, selector, false);
}

/**
 * Makes the chosen layers trainable again (optimizer state of layers that stayed trainable is kept). Returns their
 * names.
 *
 * @example
 * ```ts
 * unfreezeLayers(model, { last: 4 });
 * ```
 */
export function unfreezeLayers(model: tf.LayersModel, selector: LayerSelector): string[] {
  return setTrainable(model, selector, true);
}
