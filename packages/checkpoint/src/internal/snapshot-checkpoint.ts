// A checkpoint's content taken in one synchronous moment: copies of the weights, the topology, the optimizers and their
// extras. write-checkpoint.ts encodes and publishes it. The trainer (@fitstream/core) snapshots its models through
// CheckpointModel; writeCheckpoint snapshots a plain LayersModel the same way.
import * as tf from '@tensorflow/tfjs';
import type { CheckpointStateInput, NamedTensor } from './checkpoint-format.js';

/**
 * A model as a checkpoint reads it: its weights by the names they are saved under, in a fixed order, and for a layers
 * model the model itself (its topology). `@fitstream/core` adapts a trainer's models to this;
 * {@link checkpointWeights} gives a `LayersModel`'s weights.
 *
 * @example
 * ```ts
 * const w = tf.variable(tf.zeros([4, 3]), true, 'w');
 * const part: CheckpointModel = { kind: 'function', layersModel: undefined, namedWeights: () => new Map([['w', w]]) };
 * ```
 */
export interface CheckpointModel {
  readonly kind: 'layers' | 'function';
  /** Every weight a checkpoint must hold, by unique name, in the order weights are matched by position. */
  namedWeights(): ReadonlyMap<string, tf.Variable>;
  /** The layers model whose topology becomes `model.json`; `undefined` for a function model (`variables.json`). */
  readonly layersModel: tf.LayersModel | undefined;
}

/**
 * A `LayersModel`'s weights as checkpoints name and order them: layer by layer, nested models expanded depth first,
 * each layer's weights in its own order, by their original names. (tfjs' `model.weights` lists trainable weights
 * first, so its order changes when layers are frozen — and checkpoints match weights by position when names differ.)
 *
 * @example
 * ```ts
 * const loaded = await readCheckpoint('runs/iris/checkpoints');
 * for (const [name, variable] of checkpointWeights(model)) variable.assign(loaded.weights[name]!);
 * ```
 */
export function checkpointWeights(model: tf.LayersModel): Map<string, tf.Variable> {
  const named = new Map<string, tf.Variable>();
  const walk = (container: tf.LayersModel) => {
    for (const layer of container.layers) {
      if (layer instanceof tf.LayersModel) walk(layer);
      else for (const w of layer.weights) named.set(w.originalName, w.read() as tf.Variable);
    }
  };
  walk(model);
  return named;
}

/** What a checkpoint is written from (see {@link snapshotCheckpoint}). */
export interface CheckpointParts {
  readonly model: CheckpointModel;
  /** The main optimizer; without one the checkpoint holds no `optimizer.json` (it cannot resume training). */
  readonly optimizer?: tf.Optimizer;
  readonly state: CheckpointStateInput;
  /** Tensors of state providers, by provider key (see `StateProvider.getTensors` in @fitstream/core). */
  readonly pluginTensors?: Readonly<Record<string, tf.NamedTensorMap>>;
  /** The other models of a custom train step, by name (saved under `models/<name>/`). */
  readonly models?: ReadonlyMap<string, CheckpointModel>;
  /** The other optimizers of a custom train step, by name (saved under `optimizers/<name>/`). */
  readonly optimizers?: ReadonlyMap<string, tf.Optimizer>;
}

/** One model's part of a snapshot: its topology and copies of its weights. */
export interface ModelSnapshot {
  readonly kind: CheckpointModel['kind'];
  /** The layers model's `toJSON` (its topology), or `undefined` for a function model. */
  readonly topology: tf.io.ModelJSON['modelTopology'] | undefined;
  readonly userDefinedMetadata: tf.io.ModelArtifacts['userDefinedMetadata'];
  /** Copies of every model weight in the model's canonical (layer) order. */
  readonly weights: readonly NamedTensor[];
  readonly variables: ReadonlyArray<readonly [string, string]>;
}

/** One optimizer's part of a snapshot. */
export interface OptimizerSnapshot {
  readonly optimizer: tf.Optimizer;
  /** `optimizer.getWeights()`, started in the same moment (tfjs reads the slot variables, which only updates change). */
  readonly weights: Promise<NamedTensor[]>;
  readonly extras: Record<string, number>;
}

/**
 * A checkpoint's content taken in one synchronous moment (see {@link snapshotCheckpoint}); `writeSnapshot` writes it and
 * disposes the copies.
 */
export interface CheckpointSnapshot extends ModelSnapshot {
  readonly pluginKeys: readonly string[];
  readonly pluginTensors: readonly NamedTensor[];
  readonly optimizer: OptimizerSnapshot | undefined;
  readonly state: CheckpointStateInput;
  /** The other models and optimizers of a custom train step. */
  readonly models: ReadonlyMap<string, ModelSnapshot>;
  readonly optimizers: ReadonlyMap<string, OptimizerSnapshot>;
}

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

function snapshotModel(model: CheckpointModel): ModelSnapshot {
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
 * Takes a checkpoint's content in one synchronous moment: copies of the model weights and plugin tensors, the model's
 * topology, the optimizer and its extras. Taking it does not wait for anything, so nothing else (another event
 * subscriber, the next step) can change what the checkpoint holds between the request and the write; a weight view
 * (EMA, SWA) needs to stay applied only while it is taken. `writeSnapshot` writes it and disposes the copies.
 *
 * @example
 * ```ts
 * const snapshot = snapshotCheckpoint({ model: { kind: 'layers', layersModel: model, namedWeights: () => checkpointWeights(model) }, optimizer, state });
 * await writeSnapshot('runs/a/checkpoints/epoch-0003', snapshot);
 * ```
 */
export function snapshotCheckpoint(parts: CheckpointParts): CheckpointSnapshot {
  return {
    ...snapshotModel(parts.model),
    pluginKeys: Object.keys(parts.pluginTensors ?? {}),
    pluginTensors: Object.entries(parts.pluginTensors ?? {}).flatMap(([key, map]) => Object.entries(map).map(([name, tensor]) => ({ name: `${key}/${name}`, tensor: tf.clone(tensor) }))),
    optimizer: parts.optimizer ? snapshotOptimizer(parts.optimizer) : undefined,
    state: parts.state,
    models: new Map([...(parts.models ?? [])].map(([name, m]) => [name, snapshotModel(m)])),
    optimizers: new Map([...(parts.optimizers ?? [])].map(([name, o]) => [name, snapshotOptimizer(o)])),
  };
}
