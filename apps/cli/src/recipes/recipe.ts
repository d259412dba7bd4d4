import type * as tf from '@tensorflow/tfjs';
import type { BackendName, LossName, Plugin, Random } from '@fitstream/core';
import type { Preprocessor } from '@fitstream/samplers';
import type { z } from 'zod';
import type { RunConfig } from '../config/schema.js';

/** Where a command writes: stdout for results, stderr for logs. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** What a training run reports at the end (the `--json` object). */
export interface TrainSummary {
  readonly runDir: string;
  readonly backend: string;
  readonly epochs: number;
  readonly reason: string;
  readonly final: Readonly<Record<string, number>>;
  readonly best: Readonly<Record<string, number>>;
  readonly evaluation: Readonly<Record<string, number>>;
}

/** In-memory rows for the trainer. */
export interface TensorPair {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor;
}

/** A recipe's whole data set as loaded, before any split. */
export interface LoadedData extends TensorPair {
  readonly metadata: { readonly classNames: readonly string[] } & Record<string, unknown>;
  readonly cache: unknown;
}

/** The splits a run trains and validates on, and what `data.json` records (split sizes, preprocessing statistics). */
export interface PreparedData {
  readonly train: TensorPair;
  readonly validation: TensorPair;
  /** JSON for `<run>/data.json`; `preprocessing` is what {@link RecipeDefinition.inputs} needs to prepare new rows. */
  readonly info: { readonly preprocessing: Record<string, unknown> } & Record<string, unknown>;
}

/** A reproducible training setup: dataset, split, preprocessing, model, loss and metrics, and its defaults. */
export interface RecipeDefinition {
  readonly name: string;
  readonly summary: string;
  readonly task: 'classification' | 'regression';
  readonly loss: LossName;
  readonly metrics: readonly string[];
  /** Number of input features of one row in `predict`/`evaluate --data` files (mnist: 784 pixels). */
  readonly featureCount: number;
  readonly featureNames: readonly string[];
  readonly targetName: string;
  readonly schema: z.ZodType<RunConfig>;
  defaults(): RunConfig;
  load(config: RunConfig): Promise<LoadedData>;
  /** Splits and preprocesses (statistics from the training split only). Takes ownership of `data`'s tensors. */
  prepare(config: RunConfig, data: LoadedData): PreparedData;
  /** Preprocessors fitted per fold by `fitstream cv` (on raw rows). */
  cvPreprocessors(config: RunConfig): Preprocessor[];
  buildModel(config: RunConfig, random: Random): tf.LayersModel;
  /** Recipe-specific plugins (augmentation). */
  plugins(config: RunConfig): Plugin[];
  /** Raw feature rows (as in the data set's units) → model inputs, with the run's preprocessing. */
  inputs(rows: readonly (readonly number[])[], preprocessing: Record<string, unknown>): tf.Tensor;
  /** Raw targets (class indices or values) → the tensor the loss expects. */
  targets(values: readonly number[]): tf.Tensor;
  // Optional hooks of a recipe built from its configuration (`fitstream fit`: the user's model and data).
  /** The recipe for this configuration (its loss, metrics and data depend on it); `resolveConfig` calls it. */
  withConfig?(config: RunConfig): RecipeDefinition;
  /** The configuration as the run machinery reads it (callback sections, the optimizer's name), when the recipe's differs. */
  runView?(config: RunConfig): RunConfig;
  /** Builds the model asynchronously (files to read) instead of {@link RecipeDefinition.buildModel}; after `prepare`. */
  loadModel?(config: RunConfig, random: Random): Promise<tf.LayersModel>;
  /** An optimizer built with options beyond its name and learning rate (the recipe's plugins dispose it). */
  optimizer?(config: RunConfig): tf.Optimizer | undefined;
  /** Reads rows of a file for `predict` / `evaluate --data` with the run's recorded preprocessing (instead of `src/run/rows.ts`). */
  readData?(file: string, preprocessing: Record<string, unknown>, options: { readonly labelled: boolean; readonly log: (line: string) => void }): Promise<{ x: tf.Tensor; y?: tf.Tensor | undefined }>;
  /** Commands that do not apply to this recipe, with the reason (`cv`, `lr-find`). */
  readonly unsupported?: Readonly<Record<string, string>>;
}

/** The configuration fields every recipe has, whatever its sections (what `--seed`, `--epochs`… set). */
export interface BaseConfig {
  readonly recipe: string;
  readonly seed: number;
  readonly backend: RunConfig['backend'];
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly fastDevRun: boolean | number;
  readonly out: string;
}

/** What an experiment recipe's run reports at the end (the `--json` object): its own metrics next to its baselines'. */
export interface ExperimentSummary {
  readonly runDir: string;
  readonly backend: string;
  readonly reason: string;
  /** The headline numbers, flat. */
  readonly final: Readonly<Record<string, number>>;
  readonly [section: string]: unknown;
}

/** How an experiment recipe ends: the exit code and, when it finished, its summary. */
export interface ExperimentOutcome {
  readonly code: number;
  readonly summary: ExperimentSummary | undefined;
}

/**
 * A recipe that is a whole experiment rather than one model on one split — a walk-forward backtest with retraining, or
 * a model trained next to its baseline. `fitstream train` hands it the validated configuration and it writes the run
 * directory itself (with the helpers of `src/run/`); `cv`, `lr-find`, `resume`, `evaluate` and `predict` do not apply.
 */
export interface ExperimentRecipe<C extends BaseConfig = BaseConfig> {
  readonly kind: 'experiment';
  readonly name: string;
  readonly summary: string;
  readonly schema: z.ZodType<C>;
  defaults(): C;
  run(config: C, io: Io, options: { readonly json: boolean }): Promise<ExperimentOutcome>;
}

/** Any recipe `fitstream train` knows. */
export type AnyRecipe = RecipeDefinition | ExperimentRecipe;

/** Whether a recipe is an experiment (births, sensors) rather than a single-model recipe. */
export function isExperiment(recipe: AnyRecipe): recipe is ExperimentRecipe {
  return (recipe as Partial<ExperimentRecipe>).kind === 'experiment';
}

/** A recipe as `fitstream` lists it; `load` imports its code (and tfjs) only when it runs. */
export interface RecipeEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<AnyRecipe>;
}

export type { BackendName };
