// Finding and reading a checkpoint: a checkpoint directory or one with latest.json, verified against its checksums.
import * as tf from '@tensorflow/tfjs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { pathExists } from '@fitstream/util';
import { readVerifiedCheckpoint } from './verify-checkpoint.js';
import { LATEST, MODELS_DIR, OPTIMIZER_BIN, OPTIMIZER_JSON, OPTIMIZERS_DIR, PLUGIN_TENSORS_BIN, PLUGIN_TENSORS_JSON, STATE, VARIABLES_JSON, WEIGHTS_BIN } from './checkpoint-format.js';
import type { CheckpointState, NamedTensor } from './checkpoint-format.js';

/**
 * Resolves a checkpoint path: a checkpoint directory (holds `state.json`) or a directory of checkpoints with
 * `latest.json`. Returns `undefined` when neither exists.
 */
export async function findCheckpoint(path: string): Promise<string | undefined> {
  const abs = resolvePath(path);
  if (await pathExists(join(abs, STATE))) return abs;
  // A kill between the two renames of an in-place replacement leaves the previous checkpoint moved aside.
  const aside = await movedAside(abs);
  if (aside) return aside;
  for (const candidate of [join(abs, LATEST), join(abs, 'checkpoints', LATEST)]) {
    if (await pathExists(candidate)) {
      const { path: name } = JSON.parse(await readFile(candidate, 'utf8')) as { path: string };
      const target = join(dirname(candidate), name);
      if (await pathExists(join(target, STATE))) return target;
    }
  }
  return undefined;
}

async function movedAside(abs: string): Promise<string | undefined> {
  const prefix = `.${basename(abs)}.old-`;
  let names: string[];
  try {
    names = await readdir(dirname(abs));
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (name.startsWith(prefix) && (await pathExists(join(dirname(abs), name, STATE)))) return join(dirname(abs), name);
  }
  return undefined;
}

/** What {@link readCheckpoint} returns; the caller disposes the tensors. */
export interface LoadedCheckpoint {
  readonly path: string;
  readonly state: CheckpointState;
  readonly weights: tf.NamedTensorMap;
  readonly optimizerWeights: NamedTensor[];
  /** Tensors of state providers, by provider key. */
  readonly pluginTensors: Record<string, tf.NamedTensorMap>;
  /** The other models' weights and the other optimizers' slots of a custom train step, by name. */
  readonly parts: { readonly models: Record<string, tf.NamedTensorMap>; readonly optimizers: Record<string, NamedTensor[]> };
}

/**
 * Reads and verifies a checkpoint: format and version, state.json's own checksum, every file's checksum, paths confined
 * to the directory and regular files only ({@link CheckpointCorruptError} names the file and what is wrong).
 */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const dir = await findCheckpoint(path);
  if (!dir) throw new Error(`No checkpoint at ${resolvePath(path)}: expected a directory with state.json, or one with latest.json pointing to it.`);
  const { state, bytes } = await readVerifiedCheckpoint(dir);
  const bufferOf = (name: string): ArrayBuffer => {
    const b = bytes[name]!;
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  const modelWeights = (prefix: string, kind: 'layers' | 'function'): tf.NamedTensorMap => {
    if (kind === 'layers') {
      const json = JSON.parse(bytes[`${prefix}model.json`]!.toString('utf8')) as tf.io.ModelJSON;
      return tf.io.decodeWeights(bufferOf(`${prefix}${WEIGHTS_BIN}`), json.weightsManifest.flatMap((g) => g.weights));
    }
    const { weights: specs } = JSON.parse(bytes[`${prefix}${VARIABLES_JSON}`]!.toString('utf8')) as { weights: tf.io.WeightsManifestEntry[] };
    return tf.io.decodeWeights(bufferOf(`${prefix}${WEIGHTS_BIN}`), specs);
  };
  const optimizerSlots = (prefix: string): NamedTensor[] => {
    const { weights: specs } = JSON.parse(bytes[`${prefix}${OPTIMIZER_JSON}`]!.toString('utf8')) as { weights: tf.io.WeightsManifestEntry[] };
    const map = tf.io.decodeWeights(bufferOf(`${prefix}${OPTIMIZER_BIN}`), specs);
    return specs.map((s) => ({ name: s.name, tensor: map[s.name]! }));
  };
  const weights = modelWeights('', state.model.kind);
  const optimizerWeights = optimizerSlots('');
  const parts = {
    models: Object.fromEntries(Object.entries(state.parts?.models ?? {}).map(([name, m]) => [name, modelWeights(`${MODELS_DIR}/${name}/`, m.kind)])),
    optimizers: Object.fromEntries(Object.keys(state.parts?.optimizers ?? {}).map((name) => [name, optimizerSlots(`${OPTIMIZERS_DIR}/${name}/`)])),
  };
  const pluginTensors: Record<string, tf.NamedTensorMap> = {};
  if (bytes[PLUGIN_TENSORS_JSON]) {
    const { keys, weights: specs } = JSON.parse(bytes[PLUGIN_TENSORS_JSON].toString('utf8')) as { keys: string[]; weights: tf.io.WeightsManifestEntry[] };
    const decoded = tf.io.decodeWeights(bufferOf(PLUGIN_TENSORS_BIN), specs);
    for (const [fullName, tensor] of Object.entries(decoded)) {
      const key = keys.find((k) => fullName.startsWith(`${k}/`));
      if (key === undefined) throw new Error(`Checkpoint ${dir}: plugin tensor "${fullName}" belongs to no saved plugin key.`);
      (pluginTensors[key] ??= {})[fullName.slice(key.length + 1)] = tensor;
    }
  }
  return { path: dir, state, weights, optimizerWeights, pluginTensors, parts };
}
