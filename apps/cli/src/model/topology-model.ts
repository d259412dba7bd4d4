import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, withSeed, type Random } from '@fitstream/core';
import { isKeras3Topology, keras2Topology, loadPretrained } from '@fitstream/transfer';
import { strFromU8, unzipSync } from 'fflate';
import { MODEL_KINDS } from './model-spec.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A model built from a topology alone, with fresh weights drawn from `random`. `tf.models.modelFromJSON` is async, but
 * builds the model (and draws every initial weight) synchronously before its first `await` when there is no weights
 * manifest; returning the promise inside an object keeps that synchronous part inside `withSeed`, which refuses async
 * functions (a seeded Math.random must never span an await).
 */
async function freshModel(topology: object, random: Random, source: string): Promise<tf.LayersModel> {
  const { pending } = withSeed(random, () => ({ pending: tf.models.modelFromJSON({ modelTopology: topology } as Parameters<typeof tf.models.modelFromJSON>[0]) }));
  try {
    return await pending;
  } catch (error) {
    if (error instanceof FitstreamInputError) throw error;
    throw new FitstreamInputError('model', `${source}: tfjs cannot build this topology: ${(error as Error).message}`);
  }
}

/** A Keras topology (`model_config` form) in the form tfjs reads: Keras 3 translated by @fitstream/transfer. */
function tfjsTopology(topology: object, source: string): object {
  if (!isKeras3Topology(topology)) return topology;
  try {
    return keras2Topology(topology);
  } catch (error) {
    if (error instanceof FitstreamInputError) throw new FitstreamInputError('model', `${source}: ${error.message.replace(/^path: /, '')}`);
    throw error;
  }
}

function graphModel(json: Json): boolean {
  return json['format'] === 'graph-model' || (isObject(json['modelTopology']) && 'node' in json['modelTopology']);
}

/** The weight files a model.json's manifest names that are missing beside it (none when there is no manifest). */
async function missingWeightFiles(file: string, manifest: unknown): Promise<string[] | undefined> {
  if (!Array.isArray(manifest)) return undefined;
  const groups = manifest as Array<{ paths?: unknown; weights?: unknown }>;
  const paths = groups.flatMap((g) => (Array.isArray(g.paths) ? (g.paths as unknown[]).map(String) : []));
  const weights = groups.flatMap((g) => (Array.isArray(g.weights) ? (g.weights as unknown[]) : []));
  if (weights.length === 0) return undefined;
  const missing: string[] = [];
  for (const p of paths) if (!(await stat(join(dirname(file), p)).catch(() => undefined))) missing.push(p);
  return missing;
}

/**
 * A tfjs layers `model.json`: with its weights through @fitstream/transfer's `loadPretrained` (which translates Keras 3
 * topologies and checks what tfjs would ignore); without a weights manifest, or with its weight files missing, the
 * topology with fresh weights seeded by `random`. A graph model is refused (it cannot be trained).
 */
export async function modelJson(file: string, json: Json, random: Random, log: (line: string) => void): Promise<tf.LayersModel> {
  if (graphModel(json)) {
    throw new FitstreamInputError(
      'model',
      `${file} is a tfjs graph model (inference only: nothing to train); export a layers model instead: \`tensorflowjs_converter --output_format tfjs_layers_model\`, or \`model.save(...)\` in tfjs.`,
    );
  }
  const topology = json['modelTopology'];
  if (!isObject(topology)) throw new FitstreamInputError('model', `${file} has no modelTopology object: it is not a tfjs layers model.json. --model takes ${MODEL_KINDS}.`);
  const missing = await missingWeightFiles(file, json['weightsManifest']);
  if (missing === undefined || missing.length > 0) {
    log(
      missing === undefined
        ? `${file} has no weights: training from fresh weights seeded by the run's seed.`
        : `${file} lists weight files that are missing (${missing.join(', ')}): training from fresh weights seeded by the run's seed.`,
    );
    return freshModel(tfjsTopology(topology, file), random, file);
  }
  try {
    return await loadPretrained(file);
  } catch (error) {
    if (error instanceof FitstreamInputError) throw new FitstreamInputError('model', error.message.replace(/^path: /, ''));
    throw error;
  }
}

/**
 * A bare Keras model configuration (`model.to_json()`, or the `config.json` of a `.keras` archive): `{ class_name,
 * config }`, built with fresh weights seeded by `random`.
 */
export function kerasConfig(file: string, json: Json, random: Random, kerasVersion?: string): Promise<tf.LayersModel> {
  const version = typeof json['keras_version'] === 'string' ? json['keras_version'] : kerasVersion;
  const topology = { ...(version === undefined ? {} : { keras_version: version }), model_config: json };
  return freshModel(tfjsTopology(topology, file), random, file);
}

/**
 * A Keras 3 `.keras` archive: a zip of `config.json`, `metadata.json` and `model.weights.h5`. The topology is read
 * (with fflate) and built with fresh weights: HDF5 weights cannot be read in JavaScript, and the log says so.
 */
export async function kerasArchive(file: string, random: Random, log: (line: string) => void): Promise<tf.LayersModel> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(new Uint8Array(await readFile(file)), { filter: (f) => f.name === 'config.json' || f.name === 'metadata.json' || f.name === 'model.weights.h5' });
  } catch (error) {
    throw new FitstreamInputError('model', `${file} is not a readable .keras archive (a zip of config.json and model.weights.h5): ${(error as Error).message}`);
  }
  const config = files['config.json'];
  if (!config) throw new FitstreamInputError('model', `${file} holds no config.json: save the model with Keras 3's \`model.save("model.keras")\`.`);
  const json = parseJson(strFromU8(config), `${file}!config.json`);
  const metadata = files['metadata.json'] ? (parseJson(strFromU8(files['metadata.json']), `${file}!metadata.json`) as { keras_version?: unknown }) : {};
  if (files['model.weights.h5']) {
    log(`${file}: Keras' HDF5 weights (model.weights.h5) cannot be read in JavaScript; training the architecture from fresh weights seeded by the run's seed (convert with tensorflowjs_converter to keep them).`);
  }
  if (!isObject(json) || typeof json['class_name'] !== 'string') throw new FitstreamInputError('model', `${file}!config.json is not a Keras model configuration (no class_name).`);
  return kerasConfig(`${file}!config.json`, json, random, typeof metadata.keras_version === 'string' ? metadata.keras_version : '3');
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new FitstreamInputError('model', `${source} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A `.json` model file: a tfjs layers model.json, or a bare Keras configuration; anything else is refused. */
export async function jsonModel(file: string, random: Random, log: (line: string) => void): Promise<tf.LayersModel> {
  const json = parseJson(await readFile(file, 'utf8'), file);
  if (isObject(json) && (json['modelTopology'] !== undefined || json['format'] !== undefined)) return modelJson(file, json, random, log);
  if (isObject(json) && typeof json['class_name'] === 'string' && isObject(json['config'])) return kerasConfig(file, json, random);
  throw new FitstreamInputError('model', `${file} is neither a tfjs layers model.json (modelTopology, weightsManifest) nor a Keras model configuration (class_name, config). --model takes ${MODEL_KINDS}.`);
}
