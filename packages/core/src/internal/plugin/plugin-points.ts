import type * as tf from '@tensorflow/tfjs';
import { token } from '../di/token.js';
import type { Random } from '@fitstream/util';
import type { Json } from '@fitstream/checkpoint';
import type { SampleWeights, Targets } from '../model/targets.js';

/** What every step-pipeline hook is told about where the loop is. */
export interface StepContext {
  readonly epoch: number;
  /** Batch index within the epoch. */
  readonly batch: number;
  /** Optimizer steps completed before this one. */
  readonly step: number;
  readonly learningRate: number;
  /** `true` while training, `false` during validation and evaluation. */
  readonly training: boolean;
  /** A random stream unique to (seed, epoch, batch, hook name): reproducible, resumable, and not shared with other hooks. */
  readonly random: Random;
}

/**
 * A batch: inputs and targets. Multi-input models take an array of input tensors; multi-output models one target per
 * output (an array in output order, or a map by output name), and optionally one weight per output.
 */
export interface Batch {
  readonly x: tf.Tensor | readonly tf.Tensor[];
  readonly y: Targets;
  /** Optional per-sample weights, shape `[batch]`: for every output, or one per output. */
  readonly sampleWeight?: SampleWeights;
}

/**
 * Plugin point: transforms a batch before the forward pass (augmentation, input noise). Runs inside `tf.tidy`.
 * By default only while training; set `applyTo` to also run on validation.
 */
export interface BatchTransform {
  readonly name: string;
  readonly applyTo?: 'train' | 'train-and-validation';
  transform(batch: Batch, ctx: StepContext): Batch;
}
export const BatchTransform = token<BatchTransform>('@fitstream/core/BatchTransform');

/** What a loss transform sees. */
export interface LossContext extends StepContext {
  /** The whole batch (after batch transforms). */
  readonly batchData: Batch;
  /**
   * The output being scored, by name, in `perSample` of a multi-output model (called once per output); `undefined` for a
   * single-output model and in `total`.
   */
  readonly output: string | undefined;
  /** The model's output names, in order (one for a single-output model). */
  readonly outputs: readonly string[];
  /** Targets of the output being scored (in `total`: of the first output). */
  readonly yTrue: tf.Tensor;
  /** Predictions of the output being scored (in `total`: of the first output). */
  readonly yPred: tf.Tensor;
  /** Per-sample weights of the output being scored, already applied to the losses (`undefined`: none). */
  readonly sampleWeight: tf.Tensor1D | undefined;
  /** The model's trainable variables (for weight penalties). */
  readonly variables: readonly tf.Variable[];
}

/**
 * Plugin point: shapes the loss inside the gradient tape (class/sample weights, focal loss, label smoothing, penalties).
 * `perSample` maps the per-sample losses `[batch]` of one output before its mean (called once per output of a
 * multi-output model, `ctx.output` naming it); `total` maps the reduced scalar, the weighted sum over outputs (add
 * penalties). A transform that only makes sense for one kind of output refuses the others with a clear error.
 */
export interface LossTransform {
  readonly name: string;
  perSample?(losses: tf.Tensor1D, ctx: LossContext): tf.Tensor1D;
  total?(loss: tf.Scalar, ctx: LossContext): tf.Scalar;
}
export const LossTransform = token<LossTransform>('@fitstream/core/LossTransform');

/** Gradients keyed by variable name. */
export type Gradients = Readonly<Record<string, tf.Tensor>>;

/**
 * Where a gradient transform runs relative to the cross-replica reduction: `pre-reduce` (e.g. per-replica
 * compression), `reduce` (the all-reduce itself: at most one), `post-reduce` (clipping, gradient noise — the default).
 */
export type GradientStage = 'pre-reduce' | 'reduce' | 'post-reduce';

/** What a gradient transform sees besides the gradients. */
export interface GradientContext extends StepContext {
  /** The loss of the step's last batch, on the device (read it only if you must: a read is a sync). */
  readonly loss: tf.Scalar;
  /** Samples that contributed to this update. */
  readonly samples: number;
  /** The variables being trained (the keys of the gradients are their names). */
  readonly variables: readonly tf.Variable[];
}

/** Plugin point: transforms the step's gradients (after accumulation) before the optimizer applies them. */
export interface GradientTransform {
  readonly name: string;
  readonly stage?: GradientStage;
  /** Return the new gradients, or `null` to skip this optimizer update (e.g. non-finite gradients, a loss spike). */
  transform(grads: Gradients, ctx: GradientContext): Gradients | null;
  /**
   * Called instead of `transform` when an earlier transform skipped this update. A cross-replica reducer implements
   * it to take part in the collective anyway (so peers do not wait for this replica) and to make every replica skip.
   */
  skipped?(ctx: GradientContext): void;
}
export const GradientTransform = token<GradientTransform>('@fitstream/core/GradientTransform');

/** Plugin point: projects weights after each optimizer update (max-norm, non-negative). */
export interface WeightConstraint {
  readonly name: string;
  apply(variables: readonly tf.Variable[], ctx: StepContext): void;
}
export const WeightConstraint = token<WeightConstraint>('@fitstream/core/WeightConstraint');

/**
 * Plugin point: a per-variable factor on the learning rate (discriminative learning rates, layer-wise decay).
 * Factors of several plugins multiply; `1` leaves a variable's update unchanged. Asked on every update, for every
 * trained variable, so a schedule may change the factors between steps.
 */
export interface LearningRateMultiplier {
  readonly name: string;
  multiplier(variable: tf.Variable, ctx: StepContext): number;
}
export const LearningRateMultiplier = token<LearningRateMultiplier>('@fitstream/core/LearningRateMultiplier');

/**
 * Plugin point: another set of weights that stands in for the trained ones (averaged weights: EMA, SWA). While it is
 * applied the model holds those weights; `apply` returns the function that puts the trained weights back. The trainer
 * applies it around validation and `trainer.evaluate` when `evaluation` is set, and around writing a checkpoint's
 * model weights when `checkpoints` is set (the plugin then saves what resume needs through its StateProvider). At
 * most one per trainer.
 */
export interface WeightView {
  readonly name: string;
  readonly evaluation: boolean;
  readonly checkpoints: boolean;
  apply(): () => void;
}
export const WeightView = token<WeightView>('@fitstream/core/WeightView');

/** What an {@link EpochMetricsReducer} is given besides the logs: this replica's sample counts and the position. */
export interface EpochMetricsContext {
  readonly epoch: number;
  readonly step: number;
  /** Training samples this replica's epoch means are over. */
  readonly samples: number;
  /** Validation samples this replica's `val_*` means are over; 0 when it did not validate this epoch. */
  readonly validationSamples: number;
  /** The trainer's metric names (`loss` first); the logs hold these and, after validation, their `val_` forms. */
  readonly metricNames: readonly string[];
}

/**
 * Plugin point: turns one replica's epoch logs into those of the whole training group before `epoch:end` is published
 * and the history is written — data-parallel training averages them across replicas (sample-weighted) — so that every
 * plugin (early stopping, LR on plateau, best-epoch checkpoints, loggers) decides on the same, global numbers. Called
 * on every rank, in step, once per epoch; `validation:end` keeps the replica's own numbers. At most one per trainer.
 */
export interface EpochMetricsReducer {
  readonly name: string;
  reduce(logs: Readonly<Record<string, number>>, ctx: EpochMetricsContext): Record<string, number>;
}
export const EpochMetricsReducer = token<EpochMetricsReducer>('@fitstream/core/EpochMetricsReducer');

/**
 * Plugin point: state that checkpoints save and resume restores (a plugin's counters, best values, cursors).
 * Tensors (averaged weights, running statistics) go through `getTensors`/`setTensors`: they are saved in the
 * checkpoint's `plugins.bin` beside the model weights, never as JSON.
 */
export interface StateProvider {
  /** Unique key in `state.json` (use the plugin name). */
  readonly key: string;
  getState(): Json;
  setState(state: Json): void;
  /** Tensors to save; the checkpoint reads them before it returns and does not dispose them. */
  getTensors?(): tf.NamedTensorMap;
  /** Called on resume after `setState`, with what `getTensors` returned; copy what you keep (they are disposed after). */
  setTensors?(tensors: tf.NamedTensorMap): void;
}
export const StateProvider = token<StateProvider>('@fitstream/core/StateProvider');

/** What an index sampler is told when it plans one epoch of in-memory data. */
export interface SamplerContext {
  /** Samples in the data. */
  readonly size: number;
  readonly batchSize: number;
  readonly epoch: number;
  /** A stream unique to (seed, sampler name, epoch): plans are pure functions of the context, so resume recomputes them. */
  readonly random: Random;
  /** Class labels per sample (argmax of one-hot targets, or sparse labels), read from the device once and cached. */
  labels(): Int32Array;
}

/**
 * Plugin point: decides which rows of in-memory data form each batch of an epoch (shuffling, stratified or balanced
 * batches, over/under-sampling, sharding). At most one per trainer; it replaces the trainer's own shuffling.
 */
export interface IndexSampler {
  readonly name: string;
  /** Declared so that order-sensitive plugins (stateful RNNs) can refuse a shuffling sampler. */
  readonly order: 'shuffled' | 'sequential';
  /**
   * The name of the random stream its plans draw from, `(seed, 'sampler:' + stream, epoch)` (default: `name`). A
   * wrapper that shards another sampler's order (`distributed(shuffleSampler())`) names the inner sampler's stream, so
   * that its global order is exactly the inner sampler's.
   */
  readonly stream?: string;
  /** The epoch's batches of row indices. */
  plan(ctx: SamplerContext): readonly Int32Array[];
}
export const IndexSampler = token<IndexSampler>('@fitstream/core/IndexSampler');

/**
 * Plugin point: where a fit without `resumeFrom` resumes from — e.g. the latest backup of an interrupted run
 * (`backupAndRestore`). `find` returns a checkpoint path, or `undefined` to start fresh. At most one per trainer.
 */
export interface ResumeSource {
  readonly name: string;
  find(): Promise<string | undefined>;
}
export const ResumeSource = token<ResumeSource>('@fitstream/core/ResumeSource');
