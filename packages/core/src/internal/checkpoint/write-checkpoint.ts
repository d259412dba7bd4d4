// Writing a checkpoint: a snapshot taken in one synchronous moment, encoded into its files (checksums, state.json
// last), then published atomically by the location's store (a directory rename on disk, a transaction in IndexedDB).
import * as tf from '@tensorflow/tfjs';
import { sha256 } from '@fitstream/util';
import type { ModelAdapter } from '../model/model.js';
import { MODELS_DIR, OPTIMIZER_BIN, OPTIMIZER_JSON, OPTIMIZERS_DIR, PLUGIN_TENSORS_BIN, PLUGIN_TENSORS_JSON, STATE, VARIABLES_JSON, WEIGHTS_BIN } from './checkpoint-format.js';
import type { CheckpointInfo, CheckpointState, CheckpointStateInput, NamedTensor } from './checkpoint-format.js';
import { checkpointStore } from './checkpoint-store.js';
import { modelJsonOf } from './model-files.js';
import type { CheckpointFiles } from './store-types.js';
import { stateChecksum } from './verify-checkpoint.js';

// Adam and Adamax keep the running powers of beta as variables outside getWeights(); setWeights recomputes them with
// pow(), which differs from the running product in the last bits. Saving them makes a resumed run bit-identical.
const OPTIMIZER_EXTRAS = ['accBeta1', 'accBeta2', 'iteration'] as const;

function optimizerExtras(optimizer: tf.Optimizer): Record<string, number> {
  const extras: Record<string, number> = {};
  for (const key of OPTIMIZER_EXTRAS) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) extras[key] = v.dataSync()[0]!;
  }
  return extras;
}

async function encodeNamed(named: tf.NamedTensorMap | NamedTensor[]): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: Uint8Array }> {
  const { data, specs } = await tf.io.encodeWeights(named);
  const buffer = Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : (data);
  return { specs, data: new Uint8Array(buffer) };
}

/** What a checkpoint is written from. */
export interface CheckpointParts {
  readonly model: ModelAdapter;
  readonly optimizer: tf.Optimizer;
  readonly state: CheckpointStateInput;
  /** Tensors of state providers, by provider key (see `StateProvider.getTensors`). */
  readonly pluginTensors?: Readonly<Record<string, tf.NamedTensorMap>>;
  /** The other models of a custom train step, by name (saved under `models/<name>/`). */
  readonly models?: ReadonlyMap<string, ModelAdapter>;
  /** The other optimizers of a custom train step, by name (saved under `optimizers/<name>/`). */
  readonly optimizers?: ReadonlyMap<string, tf.Optimizer>;
}

/** One model's part of a snapshot: its topology and copies of its weights. */
interface ModelSnapshot {
  readonly kind: ModelAdapter['kind'];
  readonly topology: tf.io.ModelJSON['modelTopology'] | undefined;
  readonly userDefinedMetadata: tf.io.ModelArtifacts['userDefinedMetadata'];
  readonly weights: readonly NamedTensor[];
  readonly variables: ReadonlyArray<readonly [string, string]>;
}

/** One optimizer's part of a snapshot. */
interface OptimizerSnapshot {
  readonly optimizer: tf.Optimizer;
  readonly weights: Promise<NamedTensor[]>;
  readonly extras: Record<string, number>;
}

function snapshotModel(model: ModelAdapter): ModelSnapshot {
  const named = [...model.namedWeights()];
  return {
    kind: model.kind,
    topology: model.layersModel ? (model.layersModel.toJSON(null, false) as tf.io.ModelJSON['modelTopology']) : undefined,
    userDefinedMetadata: model.layersModel?.getUserDefinedMetadata() as tf.io.ModelArtifacts['userDefinedMetadata'],
    weights: named.map(([name, v]) => ({ name, tensor: tf.clone(v) })),
    variables: named.map(([key, v]) => [key, v.name] as const),
  };
}

function snapshotOptimizer(optimizer: tf.Optimizer): OptimizerSnapshot {
  return { optimizer, weights: optimizerWeightsOf(optimizer), extras: optimizerExtras(optimizer) };
}

/** `optimizer.getWeights()`, with a clear error for tfjs optimizers that cannot save their state (Adamax). */
function optimizerWeightsOf(optimizer: tf.Optimizer): Promise<NamedTensor[]> {
  const refuse = (error: unknown): never => {
    throw new Error(
      `Optimizer ${optimizer.getClassName()} cannot save its state in tfjs (${error instanceof Error ? error.message : String(error)}), so a checkpoint cannot hold it and a resume would not be exact; train with 'adam', 'rmsprop', 'adagrad', 'adadelta', 'momentum' or 'sgd' to checkpoint.`,
    );
  };
  let weights: Promise<NamedTensor[]>;
  try {
    weights = optimizer.getWeights().catch(refuse);
  } catch (error) {
    weights = Promise.reject(error instanceof Error ? error : new Error(String(error))).catch(refuse);
  }
  // Awaited later by the writer (after other encodes): marked handled now so a refusal is not an unhandled rejection.
  weights.catch(() => undefined);
  return weights;
}

/**
 * A checkpoint's content taken in one synchronous moment: copies of the model weights and plugin tensors, the model's
 * topology, the optimizer and its extras. Taking it does not wait for anything, so nothing else (another event
 * subscriber, the next step) can change what the checkpoint holds between the request and the write; a weight view
 * (EMA, SWA) needs to stay applied only while it is taken. {@link writeSnapshot} writes it and disposes the copies.
 */
export interface CheckpointSnapshot {
  readonly kind: ModelAdapter['kind'];
  /** The layers model's `toJSON` (its topology), or `undefined` for a function model. */
  readonly topology: tf.io.ModelJSON['modelTopology'] | undefined;
  readonly userDefinedMetadata: tf.io.ModelArtifacts['userDefinedMetadata'];
  /** Copies of every model weight in the model's canonical (layer) order. */
  readonly weights: readonly NamedTensor[];
  readonly variables: ReadonlyArray<readonly [string, string]>;
  readonly pluginKeys: readonly string[];
  readonly pluginTensors: readonly NamedTensor[];
  readonly optimizer: tf.Optimizer;
  /** `optimizer.getWeights()`, started in the same moment (tfjs reads the slot variables, which only updates change). */
  readonly optimizerWeights: Promise<NamedTensor[]>;
  readonly extras: Record<string, number>;
  readonly state: CheckpointStateInput;
  /** The other models and optimizers of a custom train step. */
  readonly models: ReadonlyMap<string, ModelSnapshot>;
  readonly optimizers: ReadonlyMap<string, OptimizerSnapshot>;
}

/** Takes a {@link CheckpointSnapshot} synchronously (see there). */
export function snapshotCheckpoint(parts: CheckpointParts): CheckpointSnapshot {
  const { model, optimizer } = parts;
  const pluginKeys = Object.keys(parts.pluginTensors ?? {});
  return {
    ...snapshotModel(model),
    pluginKeys,
    pluginTensors: Object.entries(parts.pluginTensors ?? {}).flatMap(([key, map]) => Object.entries(map).map(([name, tensor]) => ({ name: `${key}/${name}`, tensor: tf.clone(tensor) }))),
    optimizer,
    optimizerWeights: optimizerWeightsOf(optimizer),
    extras: optimizerExtras(optimizer),
    state: parts.state,
    models: new Map([...(parts.models ?? [])].map(([name, m]) => [name, snapshotModel(m)])),
    optimizers: new Map([...(parts.optimizers ?? [])].map(([name, o]) => [name, snapshotOptimizer(o)])),
  };
}

/**
 * Writes a checkpoint directory atomically: `model.json` + `weights.bin` (stock tfjs layers format, loadable with
 * `tf.loadLayersModel(fileSystem(dir))`) or `variables.json` + `weights.bin` for function models,
 * `optimizer.json` + `optimizer.bin`, plugin tensors, and `state.json` with SHA-256 checksums of the other files.
 */
export async function writeCheckpoint(dir: string, parts: CheckpointParts): Promise<CheckpointInfo> {
  return writeSnapshot(dir, snapshotCheckpoint(parts));
}

/**
 * Writes a snapshot taken with {@link snapshotCheckpoint} (see {@link writeCheckpoint}) and disposes its copies;
 * `beforePublish` runs once the files are encoded and must settle before the checkpoint is put in place.
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
  const { optimizer } = snapshot;
  const files = new Map<string, Uint8Array>();
  const digests: Record<string, string> = {};
  const put: PutFile = (name, data) => {
    const bytes = typeof data === 'string' ? UTF8.encode(data) : data;
    files.set(name, bytes);
    digests[name] = sha256(bytes);
  };
  try {
    await writeModelFiles('', snapshot, put);
    await writeOptimizerFiles('', { optimizer, weights: snapshot.optimizerWeights, extras: snapshot.extras }, put);
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
    optimizer: { className: optimizer.getClassName(), extras: snapshot.extras },
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
