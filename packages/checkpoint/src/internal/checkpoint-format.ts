// The checkpoint directory's format: what state.json holds and the names of the files beside it. Written by
// write-checkpoint.ts, read by read-checkpoint.ts. The loop state (rate, PRNG, history, plugins) is the trainer's
// (@fitstream/core); this package keeps it, checks its shape and checksums it, but gives it no meaning.
import type * as tf from '@tensorflow/tfjs';
import type { RandomState } from '@fitstream/util';
import type { Json } from './json.js';

/** A tensor with the name it is saved under. */
export type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * What a checkpoint keeps of a learning-rate pipeline (@fitstream/core's `LearningRateRecord` has this shape): the run's
 * base rate, the schedule's last rate and each modifier's factor.
 */
export interface LearningRateRecord {
  readonly initialLr: number;
  readonly base: number;
  readonly factors: Readonly<Record<string, number>>;
}

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
  /** The main optimizer (`optimizer.json` + `optimizer.bin`); absent when a model was saved without one (writeCheckpoint). */
  readonly optimizer?: { readonly className: string; readonly extras: Readonly<Record<string, number>> };
  /**
   * `variables`: `[weight name, tfjs variable name]` of every model weight — the optimizer's slots are named after the
   * variables, whose unique names differ between processes (absent in checkpoints of fitstream < 0.2).
   */
  readonly model: { readonly kind: 'layers' | 'function'; readonly variables?: ReadonlyArray<readonly [string, string]> };
  /** The fit options a resume must match; absent when written without a trainer (writeCheckpoint). */
  readonly fit?: { readonly epochs: number; readonly batchSize: number; readonly accumulateBatches: number; readonly shuffle: boolean };
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
  /** SHA-256 of this JSON without `checksum` (absent in checkpoints written before it existed). */
  readonly checksum?: string;
}

/** The loop state a writer gives; the format, the files' checksums and the models' and optimizers' records are added. */
export type CheckpointStateInput = Omit<CheckpointState, 'format' | 'version' | 'createdAt' | 'files' | 'optimizer' | 'model' | 'parts'>;

// The checkpoint's file names: a list of string constants, alike in shape only to other name lists (backend-wasm's kernel names).
export const STATE = 'state.json';
export const LATEST = 'latest.json';
export const OPTIMIZER_JSON = 'optimizer.json';
export const OPTIMIZER_BIN = 'optimizer.bin';
export const VARIABLES_JSON = 'variables.json';
export const WEIGHTS_BIN = 'weights.bin';
export const PLUGIN_TENSORS_JSON = 'plugin-tensors.json';
export const PLUGIN_TENSORS_BIN = 'plugin-tensors.bin';
export const MODELS_DIR = 'models';
export const OPTIMIZERS_DIR = 'optimizers';
