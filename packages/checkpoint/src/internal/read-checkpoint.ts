// Finding and reading a checkpoint: every complete checkpoint at a location, newest first; the first that verifies wins.
// The store (file system, IndexedDB …) finds the candidates and reads their files; verification is the same for all.
import * as tf from '@tensorflow/tfjs';
import { textOf, verifyCheckpoint, type VerifiedCheckpoint } from './verify-checkpoint.js';
import { MODELS_DIR, OPTIMIZER_BIN, OPTIMIZER_JSON, OPTIMIZERS_DIR, PLUGIN_TENSORS_BIN, PLUGIN_TENSORS_JSON, VARIABLES_JSON, WEIGHTS_BIN } from './checkpoint-format.js';
import type { CheckpointState, NamedTensor } from './checkpoint-format.js';
import { checkpointStore } from './checkpoint-store.js';
import type { StoredCheckpoint } from './store-types.js';

/** A checkpoint passed over, because it does not verify (`error` says why), before an older one was used. */
export interface SkippedCheckpoint {
  readonly path: string;
  readonly error: Error;
}

/** Options of {@link findCheckpoint} and {@link readCheckpoint}. */
export interface FindCheckpointOptions {
  /** Told of each newer checkpoint passed over because it does not verify, once an older one verified. */
  readonly onSkip?: (skipped: SkippedCheckpoint) => void;
}

/**
 * The order checkpoints are tried in: published ones first, by the latest loop position (one step can be saved before
 * and after its epoch's end), latest.json's choice on a tie; then copies an interrupted replacement left — the previous
 * one moved aside, then the new one not yet renamed into place. A checkpoint is written only after the fit's loggers
 * made everything before it durable (`control.beforeCheckpoint`), so a run resumed from it continues its log exactly
 * (only the announcement of that save, logged after it, may be missing); the unpublished copy is complete and
 * verified, and used only when nothing published verifies.
 */
function newestFirst(a: StoredCheckpoint, b: StoredCheckpoint): number {
  const later = (x: number, y: number) => (x === y ? 0 : x < y ? 1 : -1); // ±Infinity-safe
  const hidden = (c: StoredCheckpoint) => Math.max(0, c.rank - 1);
  return hidden(a) - hidden(b) || later(a.step, b.step) || later(a.epoch, b.epoch) || later(a.batch, b.batch) || a.rank - b.rank || b.createdAt.localeCompare(a.createdAt) || a.location.localeCompare(b.location);
}

/** The first checkpoint at `paths`, newest first, that verifies, with its verified content. */
export async function searchVerified(paths: string | readonly string[], options: FindCheckpointOptions): Promise<{ path: string; verified: VerifiedCheckpoint } | undefined> {
  const locations = (typeof paths === 'string' ? [paths] : paths).map(checkpointStore);
  const candidates = (await Promise.all(locations.map(({ store, location }) => store.list(location)))).flat().sort(newestFirst);
  const skipped: SkippedCheckpoint[] = [];
  for (const candidate of candidates) {
    const path = candidate.location;
    if (skipped.some((s) => s.path === path)) continue;
    try {
      const verified = await verifyCheckpoint(path, (name) => candidate.read(name));
      for (const s of skipped) options.onSkip?.(s);
      return { path, verified };
    } catch (error) {
      skipped.push({ path, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  // Nothing verifies: the newest checkpoint's problem is the one to fix (never a silent fresh start).
  if (skipped.length > 0) throw skipped[0]!.error;
  return undefined;
}

/**
 * Finds the newest checkpoint at `paths` (one location or several) that verifies: a checkpoint directory (holds
 * `state.json`) or a directory of checkpoints (what modelCheckpoint and backupAndRestore write). Published checkpoints
 * come first, newest first; then the hidden copies a kill in the middle of an atomic replacement leaves (the previous
 * one moved aside, then the complete new one), so nothing complete is ever lost. Every candidate is verified (checksums,
 * confined paths, regular files); one that does not verify is passed over for the next, and `onSkip` is told.
 * Returns `undefined` when there is no checkpoint; throws the newest one's error ({@link CheckpointCorruptError})
 * when there are some and none verifies.
 *
 * @example
 * ```ts
 * const path = await findCheckpoint(['runs/a/backup', 'runs/a/checkpoints'], { onSkip: (s) => console.warn(s.error.message) });
 * ```
 */
export async function findCheckpoint(paths: string | readonly string[], options: FindCheckpointOptions = {}): Promise<string | undefined> {
  return (await searchVerified(paths, options))?.path;
}

/** What {@link readCheckpoint} returns; the caller disposes the tensors. */
export interface LoadedCheckpoint {
  readonly path: string;
  readonly state: CheckpointState;
  readonly weights: tf.NamedTensorMap;
  /** The main optimizer's slots (empty for a model saved without an optimizer). */
  readonly optimizerWeights: NamedTensor[];
  /** Tensors of state providers, by provider key. */
  readonly pluginTensors: Record<string, tf.NamedTensorMap>;
  /** The other models' weights and the other optimizers' slots of a custom train step, by name. */
  readonly parts: { readonly models: Record<string, tf.NamedTensorMap>; readonly optimizers: Record<string, NamedTensor[]> };
}

/**
 * Reads and verifies a checkpoint: format and version, state.json's own checksum, every file's checksum, paths confined
 * to the directory and regular files only ({@link CheckpointCorruptError} names the file and what is wrong). `path` is
 * a location as for {@link findCheckpoint}: a newer checkpoint that does not verify falls back to the previous good one.
 */
export async function readCheckpoint(path: string, options: FindCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const found = await searchVerified(path, options);
  if (!found) throw new Error(`No checkpoint at ${path}: expected a checkpoint directory (with state.json), an "indexeddb://" checkpoint, or a collection of them.`);
  const { path: dir, verified: { state, bytes } } = found;
  const bufferOf = (name: string): ArrayBuffer => {
    const b = bytes[name]!;
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  const modelWeights = (prefix: string, kind: 'layers' | 'function'): tf.NamedTensorMap => {
    if (kind === 'layers') {
      const json = JSON.parse(textOf(bytes[`${prefix}model.json`]!)) as tf.io.ModelJSON;
      return tf.io.decodeWeights(bufferOf(`${prefix}${WEIGHTS_BIN}`), json.weightsManifest.flatMap((g) => g.weights));
    }
    const { weights: specs } = JSON.parse(textOf(bytes[`${prefix}${VARIABLES_JSON}`]!)) as { weights: tf.io.WeightsManifestEntry[] };
    return tf.io.decodeWeights(bufferOf(`${prefix}${WEIGHTS_BIN}`), specs);
  };
  const optimizerSlots = (prefix: string): NamedTensor[] => {
    const { weights: specs } = JSON.parse(textOf(bytes[`${prefix}${OPTIMIZER_JSON}`]!)) as { weights: tf.io.WeightsManifestEntry[] };
    const map = tf.io.decodeWeights(bufferOf(`${prefix}${OPTIMIZER_BIN}`), specs);
    return specs.map((s) => ({ name: s.name, tensor: map[s.name]! }));
  };
  const weights = modelWeights('', state.model.kind);
  const optimizerWeights = state.optimizer ? optimizerSlots('') : [];
  const parts = {
    models: Object.fromEntries(Object.entries(state.parts?.models ?? {}).map(([name, m]) => [name, modelWeights(`${MODELS_DIR}/${name}/`, m.kind)])),
    optimizers: Object.fromEntries(Object.keys(state.parts?.optimizers ?? {}).map((name) => [name, optimizerSlots(`${OPTIMIZERS_DIR}/${name}/`)])),
  };
  const pluginTensors: Record<string, tf.NamedTensorMap> = {};
  if (bytes[PLUGIN_TENSORS_JSON]) {
    const { keys, weights: specs } = JSON.parse(textOf(bytes[PLUGIN_TENSORS_JSON])) as { keys: string[]; weights: tf.io.WeightsManifestEntry[] };
    const decoded = tf.io.decodeWeights(bufferOf(PLUGIN_TENSORS_BIN), specs);
    for (const [fullName, tensor] of Object.entries(decoded)) {
      const key = keys.find((k) => fullName.startsWith(`${k}/`));
      if (key === undefined) throw new Error(`Checkpoint ${dir}: plugin tensor "${fullName}" belongs to no saved plugin key.`);
      (pluginTensors[key] ??= {})[fullName.slice(key.length + 1)] = tensor;
    }
  }
  return { path: dir, state, weights, optimizerWeights, pluginTensors, parts };
}
