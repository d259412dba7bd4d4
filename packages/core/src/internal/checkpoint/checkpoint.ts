import * as tf from '@tensorflow/tfjs';

type NamedTensor = { name: string; tensor: tf.Tensor };
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Json } from '../plugin/plugin-points.js';
import type { RandomState } from '../random/random.js';
import type { LearningRateRecord } from '../learning-rate/learning-rate-pipeline.js';
import type { ModelAdapter } from '../training/model.js';
import { exists, sha256, writeDirectoryAtomic, writeFileAtomic, writeFileDurable } from './atomic.js';
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
  /** SHA-256 of every other file in the directory. */
  readonly files: Readonly<Record<string, string>>;
}

export type CheckpointStateInput = Omit<CheckpointState, 'format' | 'version' | 'createdAt' | 'files' | 'optimizer' | 'model'>;

const STATE = 'state.json';
const LATEST = 'latest.json';
const OPTIMIZER_JSON = 'optimizer.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const VARIABLES_JSON = 'variables.json';
const WEIGHTS_BIN = 'weights.bin';
const PLUGIN_TENSORS_JSON = 'plugin-tensors.json';
const PLUGIN_TENSORS_BIN = 'plugin-tensors.bin';

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
}

/** Takes a {@link CheckpointSnapshot} synchronously (see there). */
export function snapshotCheckpoint(parts: CheckpointParts): CheckpointSnapshot {
  const { model, optimizer } = parts;
  const named = [...model.namedWeights()];
  const pluginKeys = Object.keys(parts.pluginTensors ?? {});
  return {
    kind: model.kind,
    topology: model.layersModel ? (model.layersModel.toJSON(null, false) as tf.io.ModelJSON['modelTopology']) : undefined,
    userDefinedMetadata: model.layersModel?.getUserDefinedMetadata() as tf.io.ModelArtifacts['userDefinedMetadata'],
    weights: named.map(([name, v]) => ({ name, tensor: tf.clone(v) })),
    variables: named.map(([key, v]) => [key, v.name] as const),
    pluginKeys,
    pluginTensors: Object.entries(parts.pluginTensors ?? {}).flatMap(([key, map]) => Object.entries(map).map(([name, tensor]) => ({ name: `${key}/${name}`, tensor: tf.clone(tensor) }))),
    optimizer,
    optimizerWeights: optimizer.getWeights(),
    extras: optimizerExtras(optimizer),
    state: parts.state,
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
    const optimizerWeights = await snapshot.optimizerWeights;
    const encodedOptimizer = await encodeNamed(optimizerWeights);
    for (const w of optimizerWeights) if (w.name === 'iter') w.tensor.dispose();
    const encodedWeights = await encodeNamed([...snapshot.weights]);
    const encodedPlugins = snapshot.pluginTensors.length > 0 ? await encodeNamed([...snapshot.pluginTensors]) : undefined;

    await writeDirectoryAtomic(path, async (tmp) => {
      const files: Record<string, string> = {};
      const put = async (name: string, data: string | Uint8Array) => {
        await writeFileDurable(join(tmp, name), data);
        files[name] = sha256(data);
      };
      if (snapshot.topology) {
        // What `LayersModel.save` writes (stock tfjs layers format), from the snapshot rather than the live model.
        await fileSystem(tmp).save!({
          modelTopology: snapshot.topology,
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
          convertedBy: null,
          weightSpecs: encodedWeights.specs,
          weightData: encodedWeights.data.buffer.slice(encodedWeights.data.byteOffset, encodedWeights.data.byteOffset + encodedWeights.data.byteLength) as ArrayBuffer,
          ...(snapshot.userDefinedMetadata ? { userDefinedMetadata: snapshot.userDefinedMetadata } : {}),
        });
        for (const name of ['model.json', WEIGHTS_BIN]) files[name] = sha256(await readFile(join(tmp, name)));
      } else {
        await put(WEIGHTS_BIN, encodedWeights.data);
        await put(VARIABLES_JSON, JSON.stringify({ format: 'fitstream-variables', weights: encodedWeights.specs }));
      }
      if (encodedPlugins) {
        await put(PLUGIN_TENSORS_BIN, encodedPlugins.data);
        await put(PLUGIN_TENSORS_JSON, JSON.stringify({ keys: snapshot.pluginKeys, weights: encodedPlugins.specs }));
      }
      await put(OPTIMIZER_BIN, encodedOptimizer.data);
      await put(OPTIMIZER_JSON, JSON.stringify({ className: optimizer.getClassName(), config: optimizer.getConfig(), weights: encodedOptimizer.specs }));
      const state: CheckpointState = {
        format: 'fitstream-checkpoint',
        version: 1,
        createdAt,
        ...snapshot.state,
        optimizer: { className: optimizer.getClassName(), extras: snapshot.extras },
        model: { kind: snapshot.kind, variables: snapshot.variables },
        files,
      };
      // state.json is written last: a directory without it is never a checkpoint.
      await writeFileDurable(join(tmp, STATE), JSON.stringify(state, null, 1));
    });
  } finally {
    tf.dispose([...snapshot.weights.map((w) => w.tensor), ...snapshot.pluginTensors.map((w) => w.tensor)]);
  }
  return { path, epoch: snapshot.state.epoch, batch: snapshot.state.batch, step: snapshot.state.step, createdAt };
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
  if (await exists(join(abs, STATE))) return abs;
  // A kill between the two renames of an in-place replacement leaves the previous checkpoint moved aside.
  const aside = await movedAside(abs);
  if (aside) return aside;
  for (const candidate of [join(abs, LATEST), join(abs, 'checkpoints', LATEST)]) {
    if (await exists(candidate)) {
      const { path: name } = JSON.parse(await readFile(candidate, 'utf8')) as { path: string };
      const target = join(dirname(candidate), name);
      if (await exists(join(target, STATE))) return target;
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
    if (name.startsWith(prefix) && (await exists(join(dirname(abs), name, STATE)))) return join(dirname(abs), name);
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
  let weights: tf.NamedTensorMap;
  if (state.model.kind === 'layers') {
    const json = JSON.parse(bytes['model.json']!.toString('utf8')) as tf.io.ModelJSON;
    const specs = json.weightsManifest.flatMap((g) => g.weights);
    weights = tf.io.decodeWeights(bufferOf(WEIGHTS_BIN), specs);
  } else {
    const { weights: specs } = JSON.parse(bytes[VARIABLES_JSON]!.toString('utf8')) as { weights: tf.io.WeightsManifestEntry[] };
    weights = tf.io.decodeWeights(bufferOf(WEIGHTS_BIN), specs);
  }
  const { weights: optimizerSpecs } = JSON.parse(bytes[OPTIMIZER_JSON]!.toString('utf8')) as { weights: tf.io.WeightsManifestEntry[] };
  const optimizerMap = tf.io.decodeWeights(bufferOf(OPTIMIZER_BIN), optimizerSpecs);
  const optimizerWeights = optimizerSpecs.map((s) => ({ name: s.name, tensor: optimizerMap[s.name]! }));
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
  return { path: dir, state, weights, optimizerWeights, pluginTensors };
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
  if (loaded.state.optimizer.className !== optimizer.getClassName()) {
    throw new Error(
      `Checkpoint ${loaded.path} was written with optimizer ${loaded.state.optimizer.className} but this trainer uses ${optimizer.getClassName()}; use the same optimizer to resume.`,
    );
  }
  // setWeights replaces the slot variables without disposing the old ones; dispose them first so resuming into a
  // trainer that already trained does not leak.
  for (const w of await optimizer.getWeights()) w.tensor.dispose();
  await optimizer.setWeights(loaded.optimizerWeights);
  // The slots are named after the writer's variables; name them after this model's, weight for weight.
  const saved = loaded.state.model.variables;
  if (saved) {
    // By weight name when they all match (the order of tfjs' weight list changes with trainability), else by position
    // (a model rebuilt with other auto-generated layer names), as assignWeights does.
    const current = [...model.namedWeights()];
    const savedByKey = new Map(saved);
    const byKey = current.every(([key]) => savedByKey.has(key));
    const pairs = current.map(([key, v], i): [string, string] => [byKey ? savedByKey.get(key)! : (saved[i]?.[1] ?? v.name), v.name]);
    renameOptimizerSlots(optimizer, new Map(pairs));
  } else {
    const trainable = model.trainableVariables().map((v) => v.name);
    const slots = loaded.optimizerWeights.filter((w) => w.name !== 'iter').map((w) => w.name.slice(0, w.name.lastIndexOf('/')));
    renameOptimizerSlots(optimizer, new Map(slots.slice(0, trainable.length).map((name, i) => [name, trainable[i]!])));
  }
  for (const [key, value] of Object.entries(loaded.state.optimizer.extras)) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}
