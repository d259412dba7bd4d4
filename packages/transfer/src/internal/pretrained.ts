import * as tf from '@tensorflow/tfjs';
import { installFrozenBatchNormInference, leafLayers } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';
import { readModelArtifacts } from '#platform/model-artifacts';
import { modelFromArtifacts, type LoadPretrainedOptions } from './model-artifacts.js';

export type { LoadPretrainedOptions } from './model-artifacts.js';

/**
 * Loads a pretrained tfjs *layers* model without `tfjs-node`: models saved by tfjs (`model.save`) and Keras models
 * converted with `tensorflowjs_converter` (Sequential and functional, sharded weights) — from Keras 2, and from Keras 3
 * (TensorFlow ≥ 2.16), whose topology format `tf.loadLayersModel` refuses and which is translated here (its training
 * config is not read: the trainer brings optimizer and loss). Under Node, `path` is a local `model.json` or its
 * directory; in a browser it is a URL tfjs can load: `https://…/model.json` (weight files beside it), a URL relative
 * to the page, `indexeddb://<name>` or `localstorage://<name>`.
 * Errors name the problem: a missing file, a *graph* model (which cannot be fine-tuned: convert with
 * `--output_format tfjs_layers_model`), a weight file that does not fit the manifest, a layer argument tfjs would
 * silently ignore. Batch-normalization layers get Keras' frozen semantics (see {@link installFrozenBatchNormInference}).
 *
 * @example
 * ```ts
 * const base = await loadPretrained('models/digits-cnn', { frozen: true });
 * const backbone = truncateModel(base, 'flatten');
 * // In a browser: await loadPretrained('https://example.com/models/digits-cnn/model.json', { frozen: true });
 * ```
 */
export async function loadPretrained(path: string, options: LoadPretrainedOptions = {}): Promise<tf.LayersModel> {
  const { source, artifacts } = await readModelArtifacts(path);
  return modelFromArtifacts(source, artifacts, options);
}

/** Options of {@link loadWeightsByName}. */
export interface LoadWeightsByNameOptions {
  /** Skip layers whose weights do not fit (Keras `skip_mismatch`), instead of throwing. Default `false`. */
  readonly skipMismatch?: boolean;
}

/** What {@link loadWeightsByName} did. */
export interface LoadWeightsReport {
  /** Layers whose weights were copied. */
  readonly loaded: readonly string[];
  /** Layers of the target with a same-named source layer whose weights did not fit (only with `skipMismatch`). */
  readonly skipped: readonly string[];
  /** Layers of the target with weights and no same-named layer in the source (left as initialised: the new head). */
  readonly missing: readonly string[];
}

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}

/**
 * Copies weights from `source` (a pretrained model) into `target` layer by layer, matching layers by name (Keras
 * `load_weights(by_name=True)`): the usual way to put a pretrained backbone under a new head. Target layers with no
 * same-named source layer keep their initial weights (reported as `missing`). A layer whose weights differ in number
 * or shape is an error naming the layer and both shapes — typically a head built for another number of classes
 * under the pretrained head's name — unless `skipMismatch` is set. Checks every layer before writing any weight.
 *
 * @example
 * ```ts
 * const report = loadWeightsByName(model, await loadPretrained('models/digits-cnn'));
 * console.log(report.missing); // ['new_head']
 * ```
 */
export function loadWeightsByName(target: tf.LayersModel, source: tf.LayersModel, options: LoadWeightsByNameOptions = {}): LoadWeightsReport {
  const sourceLayers = new Map(leafLayers(source).map(({ layer }) => [layer.name, layer]));
  const loaded: string[] = [];
  const skipped: string[] = [];
  const missing: string[] = [];
  const writes: Array<[tf.LayerVariable, tf.Tensor]> = [];
  for (const { layer } of leafLayers(target)) {
    if (layer.weights.length === 0) continue;
    const from = sourceLayers.get(layer.name);
    if (!from) {
      missing.push(layer.name);
      continue;
    }
    const mismatch =
      from.weights.length !== layer.weights.length
        ? `has ${from.weights.length} weights in the pretrained model but ${layer.weights.length} here`
        : layer.weights
            .map((w, i) => ({ w, s: from.weights[i]! }))
            .filter(({ w, s }) => shapeText(w.shape) !== shapeText(s.shape))
            .map(({ w, s }) => `weight "${w.originalName}" is ${shapeText(s.shape)} in the pretrained model but ${shapeText(w.shape)} here`)[0];
    if (mismatch !== undefined) {
      if (options.skipMismatch) {
        skipped.push(layer.name);
        continue;
      }
      throw new FitstreamInputError(
        'target',
        `layer "${layer.name}" ${mismatch}; give the new layer another name (so it keeps its initial weights) or pass { skipMismatch: true }.`,
      );
    }
    layer.weights.forEach((w, i) => writes.push([w, from.weights[i]!.read()]));
    loaded.push(layer.name);
  }
  for (const [w, value] of writes) w.write(value);
  return { loaded, skipped, missing };
}

/**
 * The part of `model` from its inputs up to (and including) the layer `upTo` — a name or an index among
 * `model.layers` — as a model that *shares* its layers and weights (nothing is copied): a feature extractor, or the
 * backbone to put a new head on.
 *
 * @example
 * ```ts
 * const encoder = truncateModel(autoencoder, 'code');
 * ```
 */
export function truncateModel(model: tf.LayersModel, upTo: string | number): tf.LayersModel {
  const names = model.layers.map((l) => l.name);
  let layer: tf.layers.Layer | undefined;
  if (typeof upTo === 'number') {
    layer = model.layers[upTo < 0 ? model.layers.length + upTo : upTo];
    if (!Number.isInteger(upTo) || !layer) throw new FitstreamInputError('upTo', `index ${upTo} is outside the model's ${names.length} layers (${names.join(', ')}).`);
  } else {
    layer = model.layers.find((l) => l.name === upTo);
    if (!layer) throw new FitstreamInputError('upTo', `names no layer "${upTo}" of model "${model.name}"; its layers are ${names.join(', ')}.`);
  }
  const output = layer.output;
  if (Array.isArray(output)) throw new FitstreamInputError('upTo', `layer "${layer.name}" has ${output.length} outputs; truncate at a single-output layer.`);
  return tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_to_${layer.name}` });
}

/** The shape one sample of `layer` expects (no batch axis), when the layer says. */
function expectedInput(layer: tf.layers.Layer): readonly (number | null)[] | undefined {
  const config = layer.getConfig() as { batchInputShape?: (number | null)[] };
  if (config.batchInputShape) return config.batchInputShape.slice(1);
  const built = (layer as unknown as { inputSpec?: Array<{ ndim?: number; axes?: Record<number, number> }> }).inputSpec?.[0];
  if (layer.built && built?.axes) {
    const shape: (number | null)[] = Array.from({ length: built.ndim ?? Math.max(...Object.keys(built.axes).map(Number)) + 1 }, () => null);
    for (const [axis, size] of Object.entries(built.axes)) shape[Number(axis) < 0 ? shape.length + Number(axis) : Number(axis)] = size;
    return shape.slice(1);
  }
  return undefined;
}

/**
 * A new model: `backbone`'s inputs through its output, then the `head` layers in order. Before applying each head
 * layer, checks the shape it receives against the shape it was built or declared for, and throws naming the layer
 * and both shapes (rather than tfjs' error from deep inside the layer).
 *
 * @example
 * ```ts
 * const model = attachHead(truncateModel(base, 'flatten'), [tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' })]);
 * ```
 */
export function attachHead(backbone: tf.LayersModel, head: readonly tf.layers.Layer[], options: { readonly name?: string } = {}): tf.LayersModel {
  if (backbone.outputs.length !== 1) throw new FitstreamInputError('backbone', `has ${backbone.outputs.length} outputs; attach a head to a single-output model.`);
  if (head.length === 0) throw new FitstreamInputError('head', 'is empty; pass at least one layer.');
  let x = backbone.outputs[0]!;
  for (const layer of head) {
    const expected = expectedInput(layer);
    const got = x.shape.slice(1);
    const fits = expected === undefined || (expected.length === got.length && expected.every((d, i) => d === null || got[i] === null || d === got[i]));
    if (!fits) {
      throw new FitstreamInputError(
        'head',
        `layer "${layer.name}" expects inputs of shape ${shapeText(expected!)} but the backbone "${backbone.name}" gives ${shapeText(got)}; build the head for ${shapeText(got)} or truncate the backbone at another layer.`,
      );
    }
    try {
      x = layer.apply(x) as tf.SymbolicTensor;
    } catch (error) {
      throw new FitstreamInputError('head', `layer "${layer.name}" cannot take the backbone's output of shape ${shapeText(got)}: ${(error as Error).message}`);
    }
  }
  const model = tf.model({ inputs: backbone.inputs, outputs: x, ...(options.name ? { name: options.name } : {}) });
  installFrozenBatchNormInference(model);
  return model;
}
