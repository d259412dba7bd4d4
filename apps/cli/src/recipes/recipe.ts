import type { BackendName } from '@fitstream/core';

/** Where a command writes: stdout for results, stderr for logs. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Options of `fitstream train <recipe>`, resolved: flags over the recipe's defaults. */
export interface TrainFlags {
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly backend: 'auto' | BackendName;
  readonly out: string;
  readonly json: boolean;
}

/** What a training run reports at the end (the `--json` object). */
export interface TrainSummary {
  readonly runDir: string;
  readonly backend: string;
  readonly epochs: number;
  readonly final: Readonly<Record<string, number>>;
  readonly best: Readonly<Record<string, number>>;
}

/** A reproducible training setup: dataset, preprocessing and model. */
export interface Recipe {
  train(flags: TrainFlags, io: Io): Promise<TrainSummary>;
}

/** A recipe as `fitstream train` lists it; `load` imports its code (and tfjs) only when it runs. */
export interface RecipeEntry {
  readonly name: string;
  readonly summary: string;
  readonly defaults: { readonly epochs: number; readonly batchSize: number; readonly learningRate: number };
  load(): Promise<Recipe>;
}
