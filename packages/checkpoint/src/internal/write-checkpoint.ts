// Writing a checkpoint: a snapshot taken in one synchronous moment, encoded into its files (checksums, state.json
// last), then published atomically by the location's store (a directory rename on disk, a transaction in IndexedDB).
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, Random, sha256 } from '@fitstream/util';
import { MODELS_DIR, OPTIMIZER_BIN, OPTIMIZER_JSON, OPTIMIZERS_DIR, PLUGIN_TENSORS_BIN, PLUGIN_TENSORS_JSON, STATE, VARIABLES_JSON, WEIGHTS_BIN } from './checkpoint-format.js';
import type { CheckpointInfo, CheckpointState, NamedTensor } from './checkpoint-format.js';
import { checkpointStore } from './checkpoint-store.js';
import { modelJsonOf } from './model-files.js';
import { checkpointWeights, snapshotCheckpoint, type CheckpointSnapshot, type ModelSnapshot, type OptimizerSnapshot } from './snapshot-checkpoint.js';
import type { Json } from './json.js';
import type { CheckpointFiles } from './store-types.js';
import { stateChecksum } from './verify-checkpoint.js';

async function encodeNamed(named: tf.NamedTensorMap | NamedTensor[]): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(named);
  const buffer = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : (data);
  return { specs, data: new Uint8Array(buffer) };
}

/** Options of {@link writeCheckpoint}. */
export interface WriteCheckpointOptions {
  readonly model: tf.LayersModel;
  /** Its optimizer, whose slots are saved too (`optimizer.json` + `optimizer.bin`); without one only the model is. */
  readonly optimizer?: tf.Optimizer;
  /** Your own JSON state by key (`state.json`'s `plugins`; a trainer resuming gives each key to its state provider). */
  readonly state?: Readonly<Record<string, Json>>;
  /** The position the checkpoint records (default 0): completed epochs, batches of the next one, optimizer updates. */
  readonly epoch?: number;
  readonly batch?: number;
  readonly step?: number;
  /** The seed whose PRNG state is recorded (default 0): a fitstream trainer resumes only with the same seed. */
  readonly seed?: number | string;
}

/**
 * Writes a checkpoint of a plain `tf.LayersModel` — no trainer needed — at `location` (a directory, or
 * `indexeddb://<name>` in a browser), atomically: `model.json` + `weights.bin` in the stock tfjs layers format (loadable
 * with `tf.loadLayersModel(checkpointModel(location))`), the optimizer's slots when given, and `state.json` with the
 * position, your JSON state and SHA-256 checksums of every file. A trainer's checkpoints (`@fitstream/core`) are the
 * same format with the whole loop state.
 *
 * @example
 * ```ts
 * const info = await writeCheckpoint('models/iris', { model, optimizer, epoch: 20, state: { note: { accuracy: 0.97 } } });
 * const loaded = await readCheckpoint(info.path); // verified; loaded.state.plugins.note is { accuracy: 0.97 }
 * ```
 */
export async function writeCheckpoint(location: string, options: WriteCheckpointOptions): Promise<CheckpointInfo> {
  const { model, optimizer, state = {}, epoch = 0, batch = 0, step = 0, seed = 0 } = options ?? ({} as WriteCheckpointOptions);
  if (!(model instanceof tf.LayersModel)) throw new FitstreamInputError('options.model', 'must be a tf.LayersModel (tf.sequential / tf.model / tf.loadLayersModel); a trainer checkpoints other models itself.');
  for (const [name, value] of Object.entries({ epoch, batch, step })) {
    if (!Number.isSafeInteger(value) || value < 0) throw new FitstreamInputError(`options.${name}`, `must be an integer ≥ 0, got ${String(value)}.`);
  }
  const rate = (optimizer as { learningRate?: unknown } | undefined)?.learningRate;
  const snapshot = snapshotCheckpoint({
    model: { kind: 'layers', layersModel: model, namedWeights: () => checkpointWeights(model) },
    ...(optimizer ? { optimizer } : {}),
    state: {
      epoch,
      batch,
      step,
      learningRate: typeof rate === 'number' && Number.isFinite(rate) ? rate : 0,
      random: Random.fromSeed(seed).getState(),
      aggregate: null,
      history: { epochs: [], logs: {} },
      plugins: state,
    },
  });
  return writeSnapshot(location, snapshot);
}

/**
 * Writes a snapshot taken with `snapshotCheckpoint` atomically in the location's store and disposes its copies:
 * `model.json` + `weights.bin` (stock tfjs layers format) or `variables.json` + `weights.bin` for function models,
 * `optimizer.json` + `optimizer.bin`, plugin tensors, and `state.json` with SHA-256 checksums of the other files.
 * `beforePublish` runs once the files are encoded and must settle before the checkpoint is put in place.
 *
 * @example
 * ```ts
 * const info = await writeSnapshot('indexeddb://digits/backup', snapshotCheckpoint(parts), () => logger.flush());
 * ```
 */
export async function writeSnapshot(location: string, snapshot: CheckpointSnapshot, beforePublish?: () => Promise<void>): Promise<CheckpointInfo> {
  const target = checkpointStore(location);
  const createdAt = new Date().toISOString();
  const files = await encodeSnapshot(snapshot, createdAt);
  await beforePublish?.();
  const path = await target.store.write(target.location, files);
  return { path, epoch: snapshot.state.epoch, batch: snapshot.state.batch, step: snapshot.state.step, createdAt };
}

const UTF8 = new TextEncoder();

/** A snapshot's files (state.json with the checksums of the others, and its own), in memory; disposes its copies. */
async function encodeSnapshot(snapshot: CheckpointSnapshot, createdAt: string): Promise<CheckpointFiles> {
  const files = new Map<string, Uint8Array>();
  const digests: Record<string, string> = {};
  const put: PutFile = (name, data) => {
    const bytes = typeof data === 'string' ? UTF8.encode(data) : data;
    files.set(name, bytes);
    digests[name] = sha256(bytes);
  };
  try {
    await writeModelFiles('', snapshot, put);
    if (snapshot.optimizer) await writeOptimizerFiles('', snapshot.optimizer, put);
    if (snapshot.pluginTensors.length > 0) {
      const encodedPlugins = await encodeNamed([...snapshot.pluginTensors]);
      put(PLUGIN_TENSORS_BIN, encodedPlugins.data);
      put(PLUGIN_TENSORS_JSON, JSON.stringify({ keys: snapshot.pluginKeys, weights: encodedPlugins.specs }));
    }
    for (const [name, model] of snapshot.models) await writeModelFiles(`${MODELS_DIR}/${name}/`, model, put);
    for (const [name, part] of snapshot.optimizers) await writeOptimizerFiles(`${OPTIMIZERS_DIR}/${name}/`, part, put);
  } finally {
    const models = [snapshot, ...snapshot.models.values()];
    tf.dispose([...models.flatMap((m) => m.weights.map((w) => w.tensor)), ...snapshot.pluginTensors.map((w) => w.tensor)]);
  }
  const state: CheckpointState = {
    format: 'fitstream-checkpoint',
    version: 1,
    createdAt,
    ...snapshot.state,
    ...(snapshot.optimizer ? { optimizer: { className: snapshot.optimizer.optimizer.getClassName(), extras: snapshot.optimizer.extras } } : {}),
    model: { kind: snapshot.kind, variables: snapshot.variables },
    ...(snapshot.models.size || snapshot.optimizers.size
      ? {
          parts: {
            models: Object.fromEntries([...snapshot.models].map(([name, m]) => [name, { kind: m.kind, variables: m.variables }])),
            optimizers: Object.fromEntries([...snapshot.optimizers].map(([name, o]) => [name, { className: o.optimizer.getClassName(), extras: o.extras }])),
          },
        }
      : {}),
    files: digests,
  };
  // state.json is written last by every store: a checkpoint without it is never one.
  files.set(STATE, UTF8.encode(JSON.stringify({ ...state, checksum: stateChecksum(state) }, null, 1)));
  return files;
}

type PutFile = (name: string, data: string | Uint8Array) => void;

/**
 * A model's files under `prefix`: `model.json` + `weights.bin` (stock tfjs layers format, what `LayersModel.save` writes,
 * from the snapshot rather than the live model) or `variables.json` + `weights.bin` for function models.
 */
async function writeModelFiles(prefix: string, model: ModelSnapshot, put: PutFile): Promise<void> {
  const encoded = await encodeNamed([...model.weights]);
  put(`${prefix}${WEIGHTS_BIN}`, encoded.data);
  if (!model.topology) {
    put(`${prefix}${VARIABLES_JSON}`, JSON.stringify({ format: 'fitstream-variables', weights: encoded.specs }));
    return;
  }
  const json = modelJsonOf({
    modelTopology: model.topology,
    weightSpecs: encoded.specs,
    ...(model.userDefinedMetadata ? { userDefinedMetadata: model.userDefinedMetadata } : {}),
  });
  put(`${prefix}model.json`, JSON.stringify(json));
}

/** An optimizer's slots and config under `prefix`: `optimizer.json` + `optimizer.bin`. */
async function writeOptimizerFiles(prefix: string, part: OptimizerSnapshot, put: PutFile): Promise<void> {
  const weights = await part.weights;
  const encoded = await encodeNamed(weights);
  for (const w of weights) if (w.name === 'iter') w.tensor.dispose();
  put(`${prefix}${OPTIMIZER_BIN}`, encoded.data);
  put(`${prefix}${OPTIMIZER_JSON}`, JSON.stringify({ className: part.optimizer.getClassName(), config: part.optimizer.getConfig(), weights: encoded.specs }));
}

/** Names a checkpoint its collection's latest (`<parent>/latest.json` on disk, replaced atomically). */
export async function markLatest(location: string): Promise<void> {
  const target = checkpointStore(location);
  await target.store.markLatest(target.location);
}
