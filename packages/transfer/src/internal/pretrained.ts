import * as tf from '@tensorflow/tfjs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileSystem, installFrozenBatchNormInference, leafLayers } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';
import { assertSupportedArguments, isKeras3Topology, keras2Topology, matchWeightNames } from './keras3-topology.js';

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Freeze every layer after loading (feature extraction, or the first phase of fine-tuning). Default `false`. */
  readonly frozen?: boolean;
}

async function modelJsonPath(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new FitstreamInputError('path', `${path} does not exist; pass a tfjs layers model.json (or the directory holding it), e.g. the output of \`tensorflowjs_converter --input_format keras model.h5 out/\` or of \`model.save(fileSystem('out'))\`.`);
  }
  return info.isDirectory() ? join(path, 'model.json') : path;
}

/**
 * Loads a pretrained tfjs *layers* model from a local `model.json` (or its directory) without `tfjs-node`: models
 * saved by tfjs (`model.save`) and Keras models converted with `tensorflowjs_converter` (Sequential and functional,
 * sharded weights) — from Keras 2, and from Keras 3 (TensorFlow ≥ 2.16), whose topology format `tf.loadLayersModel`
 * refuses and which is translated here (its training config is not read: the trainer brings optimizer and loss).
 * Errors name the problem: a missing file, a *graph* model (which cannot be fine-tuned: convert with
 * `--output_format tfjs_layers_model`), a weight file that does not fit the manifest, a layer argument tfjs would
 * silently ignore. Batch-normalization layers get Keras' frozen semantics (see {@link installFrozenBatchNormInference}).
 *
 * @example
 * ```ts
 * const base = await loadPretrained('models/digits-cnn', { frozen: true });
 * const backbone = truncateModel(base, 'flatten');
 * ```
 */
export async function loadPretrained(path: string, options: LoadPretrainedOptions = {}): Promise<tf.LayersModel> {
  const file = await modelJsonPath(path);
  let json: Partial<tf.io.ModelJSON> & { format?: string };
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as typeof json;
  } catch (error) {
    throw new FitstreamInputError('path', `${file} is not a readable JSON model (${(error as Error).message}).`);
  }
  if (json.format === 'graph-model' || (json.modelTopology && 'node' in (json.modelTopology as object))) {
    throw new FitstreamInputError(
      'path',
      `${file} is a tfjs graph model (inference only: no layers to freeze or train); convert the Keras/SavedModel source with \`tensorflowjs_converter --output_format tfjs_layers_model\`.`,
    );
  }
  if (!json.modelTopology || !json.weightsManifest) {
    throw new FitstreamInputError('path', `${file} has no modelTopology/weightsManifest: it is not a tfjs layers model.json.`);
  }
  let model: tf.LayersModel;
  try {
    if (isKeras3Topology(json.modelTopology)) model = await loadKeras3Model(file);
    else {
      assertSupportedArguments(json.modelTopology);
      model = await tf.loadLayersModel(fileSystem(file));
    }
  } catch (error) {
    if (error instanceof FitstreamInputError) throw error;
    throw new FitstreamInputError('path', `${file} could not be loaded as a layers model: ${(error as Error).message}`);
  }
  installFrozenBatchNormInference(model);
  if (options.frozen) for (const { layer } of leafLayers(model)) layer.trainable = false;
  return model;
}

/** A Keras 3 export: its topology in the Keras 2 form tfjs reads, its weights matched to the layers' own names. */
async function loadKeras3Model(file: string): Promise<tf.LayersModel> {
  const artifacts = await (fileSystem(file) as Required<Pick<tf.io.IOHandler, 'load'>>).load();
  const model = await tf.models.modelFromJSON({ modelTopology: keras2Topology(artifacts.modelTopology as object) } as Parameters<typeof tf.models.modelFromJSON>[0]);
  try {
    const specs = artifacts.weightSpecs ?? [];
    const names = matchWeightNames(
      specs.map((s) => s.name),
      model.weights.map((w) => w.originalName),
    );
    const weights = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs.map((s) => ({ ...s, name: names.get(s.name) ?? s.name })));
    try {
      model.loadWeights(weights, true);
    } finally {
      tf.dispose(Object.values(weights));
    }
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  }
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
