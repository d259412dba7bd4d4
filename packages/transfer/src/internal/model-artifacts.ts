// What loadPretrained does once it has a model's artifacts, the same in Node and in a page: only *getting* them differs
// (a local model.json and its weight files, or whatever tfjs' load handlers read from a URL), behind #platform/*.
import * as tf from '@tensorflow/tfjs';
import { installFrozenBatchNormInference, leafLayers } from '@fitstream/core';
import { FitstreamInputError } from '@fitstream/util';
import { assertSupportedArguments, isKeras3Topology, keras2Topology, matchWeightNames } from './keras3-topology.js';

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Freeze every layer after loading (feature extraction, or the first phase of fine-tuning). Default `false`. */
  readonly frozen?: boolean;
}

/** A model's artifacts and where they came from (the `model.json` file or the URL), for error messages. */
export interface PretrainedArtifacts {
  readonly source: string;
  readonly artifacts: tf.io.ModelArtifacts;
}

/** The parts of a `model.json` (or of loaded artifacts) that tell a layers model from anything else. */
export interface ModelDescription {
  readonly format?: string | undefined;
  readonly modelTopology?: unknown;
  readonly weightsManifest?: unknown;
  readonly weightSpecs?: unknown;
}

/**
 * Throws, naming `source` and the fix, unless `model` describes a tfjs *layers* model tfjs can honour: not a graph
 * model, topology and weights present, no Keras 2 layer argument tfjs would ignore. Cheap: reads no weights, so a
 * loader can call it before fetching them.
 */
export function assertLayersModel(source: string, model: ModelDescription): void {
  const topology = model.modelTopology;
  if (model.format === 'graph-model' || (typeof topology === 'object' && topology !== null && 'node' in topology)) {
    throw new FitstreamInputError(
      'path',
      `${source} is a tfjs graph model (inference only: no layers to freeze or train); convert the Keras/SavedModel source with \`tensorflowjs_converter --output_format tfjs_layers_model\`.`,
    );
  }
  if (!topology || !(model.weightsManifest ?? model.weightSpecs)) {
    throw new FitstreamInputError('path', `${source} has no modelTopology/weightsManifest: it is not a tfjs layers model.json.`);
  }
  if (!isKeras3Topology(topology)) assertSupportedArguments(topology as object);
}

/** `error` as the input error of a model at `source` that could not be loaded (input errors pass through). */
export function notLoadable(source: string, error: unknown, fix = ''): FitstreamInputError {
  if (error instanceof FitstreamInputError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new FitstreamInputError('path', `${source} could not be loaded as a layers model: ${message}${fix ? `; ${fix}` : ''}`);
}

/**
 * The layers model in `artifacts` (read from `source`): checked as {@link assertLayersModel} does, a Keras 3 topology
 * translated to the Keras 2 form tfjs reads, batch-normalization layers with Keras' frozen semantics, every layer
 * frozen with `frozen: true`. The body of {@link loadPretrained} once the platform has read the artifacts.
 */
export async function modelFromArtifacts(source: string, loaded: tf.io.ModelArtifacts, options: LoadPretrainedOptions = {}): Promise<tf.LayersModel> {
  assertLayersModel(source, loaded);
  const artifacts = loaded.weightData === undefined ? loaded : { ...loaded, weightData: evenShards(loaded.weightData) };
  let model: tf.LayersModel;
  try {
    model = isKeras3Topology(artifacts.modelTopology) ? await keras3Model(artifacts) : await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw notLoadable(source, error);
  }
  installFrozenBatchNormInference(model);
  if (options.frozen) for (const { layer } of leafLayers(model)) layer.trainable = false;
  return model;
}

/**
 * Weight shards that tfjs 4.22 decodes correctly. Its `CompositeArrayBuffer` (behind `tf.io.decodeWeights` and
 * `loadLayersModel`) takes every shard but the last to be as long as the first, and finds a byte's shard by division;
 * a last shard *longer* than the first (two weight groups: a small one, then a large one) then reads as zeros past the
 * first shards. Splitting that last shard into pieces of the first one's length (a copy of it alone) avoids it; empty
 * shards are dropped. Shards as `tensorflowjs_converter` writes them (equal, the last shorter) pass unchanged.
 */
function evenShards(data: tf.io.WeightData): tf.io.WeightData {
  if (!Array.isArray(data)) return data;
  const shards = data.filter((b) => b.byteLength > 0);
  const size = shards[0]?.byteLength ?? 0;
  const last = shards[shards.length - 1];
  if (shards.length < 2 || !last || last.byteLength <= size || shards.slice(0, -1).some((b) => b.byteLength !== size)) return shards;
  const pieces: ArrayBuffer[] = [];
  for (let at = 0; at < last.byteLength; at += size) pieces.push(last.slice(at, at + size));
  return [...shards.slice(0, -1), ...pieces];
}

/** A Keras 3 export: its topology in the Keras 2 form tfjs reads, its weights matched to the layers' own names. */
async function keras3Model(artifacts: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
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
