import * as tf from '@tensorflow/tfjs';

type NamedTensor = { name: string; tensor: tf.Tensor };
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Json } from './json.js';
import { pathExists, type RandomState, sha256, writeDirectoryAtomic, writeFileAtomic, writeFileDurable } from '@fitstream/util';
import type { LearningRateRecord } from '../learning-rate/learning-rate-pipeline.js';
import type { ModelAdapter } from '../model/model.js';
import { fileSystem } from './file-io.js';
import { renameOptimizerSlots } from '../optimizers/align-optimizer-slots.js';

/** Where a checkpoint was written and which position it holds. */
export interface CheckpointInfo {
  readonly path: string;
  readonly epoch: number;
  /** Batches of `epoch` already trained (0 at an epoch boundary). */
  readonly batch: number;
  readonly step: number;
  readonly createdAt: string;
}

/** The loop state a checkpoint holds besides weights; `state.json`. */
export interface CheckpointState {
  readonly format: 'fitstream-checkpoint';
  readonly version: 1;
  readonly createdAt: string;
  readonly epoch: number;
  readonly batch: number;
  readonly step: number;
  /** The rate of the last update. */
  readonly learningRate: number;
  /** The learning-rate pipeline: the run's base rate, the schedule's last rate and each modifier's factor (absent before 0.2). */
  readonly learningRatePipeline?: LearningRateRecord;
  /** The other optimizers' pipelines of a custom train step, by optimizer name. */
  readonly learningRatePipelines?: Readonly<Record<string, LearningRateRecord>>;
  readonly random: RandomState;
  /** The partial epoch's device aggregates, read back, so that a resumed epoch reports the same means. */
  readonly aggregate: { readonly names: readonly string[]; readonly sums: readonly number[]; readonly samples: number; readonly batches: number } | null;
  readonly history: {
    readonly epochs: readonly number[];
    readonly logs: Readonly<Record<string, readonly number[]>>;
    readonly learningRate?: readonly number[];
    readonly learningRateFactors?: Readonly<Record<string, readonly number[]>>;
  };
  readonly plugins: Readonly<Record<string, Json>>;
  readonly optimizer: { readonly className: string; readonly extras: Readonly<Record<string, number>> };
  /**
   * `variables`: `[weight name, tfjs variable name]` of every model weight — the optimizer's slots are named after the
   * variables, whose unique names differ between processes (absent in checkpoints of fitstream < 0.2).
   */
  readonly model: { readonly kind: 'layers' | 'function'; readonly variables?: ReadonlyArray<readonly [string, string]> };
  readonly fit: { readonly epochs: number; readonly batchSize: number; readonly accumulateBatches: number; readonly shuffle: boolean };
  /**
   * The other models and optimizers of a custom train step (`models/<name>/`, `optimizers/<name>/`), by name; the main
   * model and optimizer are the files at the top, loadable with stock tfjs.
   */
  readonly parts?: {
    readonly models: Readonly<Record<string, { readonly kind: 'layers' | 'function'; readonly variables: ReadonlyArray<readonly [string, string]> }>>;
    readonly optimizers: Readonly<Record<string, { readonly className: string; readonly extras: Readonly<Record<string, number>> }>>;
  };
  /** SHA-256 of every other file in the directory. */
  readonly files: Readonly<Record<string, string>>;
}

export type CheckpointStateInput = Omit<CheckpointState, 'format' | 'version' | 'createdAt' | 'files' | 'optimizer' | 'model' | 'parts'>;

const STATE = 'state.json';
const LATEST = 'latest.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const VARIABLES_JSON = 'variables.json';
const WEIGHTS_BIN = 'weights.bin';
const PLUGIN_TENSORS_JSON = 'plugin-tensors.json';
const PLUGIN_TENSORS_BIN = 'plugin-tensors.bin';
const MODELS_DIR = 'models';
const OPTIMIZERS_DIR = 'optimizers';

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

/** Writes a snapshot taken with {@link snapshotCheckpoint} (see {@link writeCheckpoint}) and disposes its copies. */
export async function writeSnapshot(dir: string, snapshot: CheckpointSnapshot): Promise<CheckpointInfo> {
  const path = resolvePath(dir);
  const createdAt = new Date().toISOString();
  const { optimizer } = snapshot;
  try {
    const encodedPlugins = snapshot.pluginTensors.length > 0 ? await encodeNamed([...snapshot.pluginTensors]) : undefined;
    await writeDirectoryAtomic(path, async (tmp) => {
      const files: Record<string, string> = {};
      const put = async (name: string, data: string | Uint8Array) => {
        await mkdir(dirname(join(tmp, name)), { recursive: true });
        await writeFileDurable(join(tmp, name), data);
        files[name] = sha256(data);
      };
      await writeModelFiles(tmp, '', snapshot, put, files);
      await writeOptimizerFiles('', { optimizer, weights: snapshot.optimizerWeights, extras: snapshot.extras }, put);
      if (encodedPlugins) {
        await put(PLUGIN_TENSORS_BIN, encodedPlugins.data);
        await put(PLUGIN_TENSORS_JSON, JSON.stringify({ keys: snapshot.pluginKeys, weights: encodedPlugins.specs }));
      }
      for (const [name, model] of snapshot.models) await writeModelFiles(tmp, `${MODELS_DIR}/${name}/`, model, put, files);
      for (const [name, part] of snapshot.optimizers) await writeOptimizerFiles(`${OPTIMIZERS_DIR}/${name}/`, part, put);
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
        files,
      };
      // state.json is written last: a directory without it is never a checkpoint.
      await writeFileDurable(join(tmp, STATE), JSON.stringify(state, null, 1));
    });
  } finally {
    const models = [snapshot, ...snapshot.models.values()];
    tf.dispose([...models.flatMap((m) => m.weights.map((w) => w.tensor)), ...snapshot.pluginTensors.map((w) => w.tensor)]);
  }
  return { path, epoch: snapshot.state.epoch, batch: snapshot.state.batch, step: snapshot.state.step, createdAt };
}

type PutFile = (name: string, data: string | Uint8Array) => Promise<void>;

/**
 * A model's files under `prefix`: `model.json` + `weights.bin` (stock tfjs layers format, what `LayersModel.save` writes,
 * from the snapshot rather than the live model) or `variables.json` + `weights.bin` for function models.
 */
async function writeModelFiles(tmp: string, prefix: string, model: ModelSnapshot, put: PutFile, files: Record<string, string>): Promise<void> {
  const encoded = await encodeNamed([...model.weights]);
  if (!model.topology) {
    await put(`${prefix}${WEIGHTS_BIN}`, encoded.data);
    await put(`${prefix}${VARIABLES_JSON}`, JSON.stringify({ format: 'fitstream-variables', weights: encoded.specs }));
    return;
  }
  const target = join(tmp, prefix);
  await mkdir(target, { recursive: true });
  await fileSystem(target).save!({
    modelTopology: model.topology,
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    weightSpecs: encoded.specs,
    weightData: encoded.data.buffer.slice(encoded.data.byteOffset, encoded.data.byteOffset + encoded.data.byteLength) as ArrayBuffer,
    ...(model.userDefinedMetadata ? { userDefinedMetadata: model.userDefinedMetadata } : {}),
  });
  for (const name of ['model.json', WEIGHTS_BIN]) files[`${prefix}${name}`] = sha256(await readFile(join(target, name)));
}

/** An optimizer's slots and config under `prefix`: `optimizer.json` + `optimizer.bin`. */
async function writeOptimizerFiles(prefix: string, part: OptimizerSnapshot, put: PutFile): Promise<void> {
  const weights = await part.weights;
  const encoded = await encodeNamed(weights);
  for (const w of weights) if (w.name === 'iter') w.tensor.dispose();
  await put(`${prefix}${OPTIMIZER_BIN}`, encoded.data);
  await put(`${prefix}${OPTIMIZER_JSON}`, JSON.stringify({ className: part.optimizer.getClassName(), config: part.optimizer.getConfig(), weights: encoded.specs }));
}

/** Points `<parent>/latest.json` at a checkpoint directory (atomic rename). */
export async function markLatest(checkpointDir: string): Promise<void> {
  const path = resolvePath(checkpointDir);
  await writeFileAtomic(join(dirname(path), LATEST), JSON.stringify({ path: basename(path) }));
}

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

/** Reads and verifies a checkpoint (format, version, checksums). */
export async function readCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const dir = await findCheckpoint(path);
  if (!dir) throw new Error(`No checkpoint at ${resolvePath(path)}: expected a directory with state.json, or one with latest.json pointing to it.`);
  const state = JSON.parse(await readFile(join(dir, STATE), 'utf8')) as CheckpointState;
  if (state.format !== 'fitstream-checkpoint' || state.version !== 1) {
    throw new Error(`${dir}/state.json is not a fitstream checkpoint of version 1 (format ${String(state.format)}, version ${String(state.version)}).`);
  }
  const bytes: Record<string, Buffer> = {};
  for (const [name, digest] of Object.entries(state.files)) {
    bytes[name] = await readFile(join(dir, name));
    if (sha256(bytes[name]) !== digest) {
      throw new Error(`Checkpoint ${dir} is corrupt: ${name} does not match its checksum; resume from an earlier checkpoint.`);
    }
  }
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

/**
 * Writes loaded weights into the model: by name when every name matches, otherwise by position (a model rebuilt in
 * another process, or a second copy in this one, gets other auto-generated layer names but the same weight order, as
 * Keras's `load_weights` assumes). Names the weight and both shapes on a mismatch.
 */
export function assignWeights(model: ModelAdapter, weights: tf.NamedTensorMap, source: string): void {
  const targets = [...model.namedWeights()];
  const byName = targets.every(([name]) => name in weights);
  const saved = Object.entries(weights);
  if (!byName && saved.length !== targets.length) {
    throw new Error(`${source} holds ${saved.length} weights but ${model.label} has ${targets.length}; was it written by a different model?`);
  }
  targets.forEach(([name, variable], i) => {
    const [savedName, value] = byName ? [name, weights[name]!] : saved[i]!;
    if (!tf.util.arraysEqual(value.shape, variable.shape)) {
      throw new Error(
        `${source}: weight "${savedName}" has shape [${value.shape.join(', ')}] but ${model.label}'s weight "${name}" has [${variable.shape.join(', ')}]; the architectures differ.`,
      );
    }
  });
  targets.forEach(([name, variable], i) => variable.assign(byName ? weights[name]! : saved[i]![1]));
}

/** Restores optimizer slots and the extras saved beside them. */
export async function restoreOptimizer(optimizer: tf.Optimizer, loaded: LoadedCheckpoint, model: ModelAdapter): Promise<void> {
  const saved = { className: loaded.state.optimizer.className, weights: loaded.optimizerWeights, extras: loaded.state.optimizer.extras };
  await restoreOptimizerSlots(optimizer, saved, loaded, slotRenames(loaded, new Map([['model', model]])) ?? legacySlotRenames(loaded, model));
}

/** Checkpoints of fitstream < 0.2 name no variables: their slots follow the trainable variables' order. */
function legacySlotRenames(loaded: LoadedCheckpoint, model: ModelAdapter): Map<string, string> {
  const trainable = model.trainableVariables().map((v) => v.name);
  const slots = loaded.optimizerWeights.filter((w) => w.name !== 'iter').map((w) => w.name.slice(0, w.name.lastIndexOf('/')));
  return new Map(slots.slice(0, trainable.length).map((name, i) => [name, trainable[i]!]));
}

/** Restores the other models and optimizers of a custom train step, by name. */
export async function restoreParts(loaded: LoadedCheckpoint, models: ReadonlyMap<string, ModelAdapter>, optimizers: ReadonlyMap<string, tf.Optimizer>): Promise<void> {
  for (const [name, model] of models) {
    if (name === 'model') continue;
    const weights = loaded.parts.models[name];
    if (!weights) throw new Error(`Checkpoint ${loaded.path} holds no model "${name}" (it has ${Object.keys(loaded.parts.models).map((n) => `"${n}"`).join(', ') || 'none besides the main one'}); resume with the models it was written with.`);
    assignWeights(model, weights, `Checkpoint ${loaded.path} (model "${name}")`);
  }
  const renames = slotRenames(loaded, models);
  for (const [name, optimizer] of optimizers) {
    const slots = loaded.parts.optimizers[name];
    const saved = loaded.state.parts?.optimizers[name];
    if (!slots || !saved) throw new Error(`Checkpoint ${loaded.path} holds no optimizer "${name}"; resume with the optimizers it was written with.`);
    await restoreOptimizerSlots(optimizer, { className: saved.className, weights: slots, extras: saved.extras }, loaded, renames);
  }
}

/**
 * Saved variable name → this process's, over every model: optimizer slots are named after the variables, whose unique
 * names differ between processes. By weight key when they all match, else by position (a model rebuilt with other
 * auto-generated layer names), as assignWeights does.
 */
function slotRenames(loaded: LoadedCheckpoint, models: ReadonlyMap<string, ModelAdapter>): Map<string, string> | undefined {
  const pairs: [string, string][] = [];
  for (const [name, model] of models) {
    const saved = name === 'model' ? loaded.state.model.variables : loaded.state.parts?.models[name]?.variables;
    if (!saved) return undefined;
    const current = [...model.namedWeights()];
    const savedByKey = new Map(saved);
    const byKey = current.every(([key]) => savedByKey.has(key));
    current.forEach(([key, v], i) => pairs.push([byKey ? savedByKey.get(key)! : (saved[i]?.[1] ?? v.name), v.name]));
  }
  return new Map(pairs);
}

async function restoreOptimizerSlots(
  optimizer: tf.Optimizer,
  saved: { readonly className: string; readonly weights: NamedTensor[]; readonly extras: Readonly<Record<string, number>> },
  loaded: LoadedCheckpoint,
  renames: Map<string, string> | undefined,
): Promise<void> {
  if (saved.className !== optimizer.getClassName()) {
    throw new Error(`Checkpoint ${loaded.path} was written with optimizer ${saved.className} but this trainer uses ${optimizer.getClassName()}; use the same optimizer to resume.`);
  }
  // setWeights replaces the slot variables without disposing the old ones; dispose them first so resuming into a
  // trainer that already trained does not leak.
  for (const w of await optimizer.getWeights()) w.tensor.dispose();
  await optimizer.setWeights(saved.weights);
  if (renames) renameOptimizerSlots(optimizer, renames);
  for (const [key, value] of Object.entries(saved.extras)) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}
