import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import type { TensorPair } from './recipe.js';

/** Per-feature standardisation statistics, learned on the training split only. */
export interface Standardisation {
  readonly statisticsFrom: 'train split';
  readonly mean: number[];
  readonly std: number[];
}

/** Mean and population standard deviation per column of the training rows (a constant column keeps scale 1). */
export function fitStandardisation(xTrain: tf.Tensor): Standardisation {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(xTrain, 0);
    return {
      statisticsFrom: 'train split' as const,
      mean: Array.from(mean.dataSync()),
      std: Array.from(tf.sqrt(variance).dataSync()).map((s) => (s > 0 ? s : 1)),
    };
  });
}

/** `(x − mean) / std`, a new tensor. */
export function standardise(x: tf.Tensor, s: { readonly mean: readonly number[]; readonly std: readonly number[] }): tf.Tensor2D {
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d([...s.mean])), tf.tensor1d([...s.std])) as tf.Tensor2D);
}

/** Reads the standardisation a run recorded in `data.json`. */
export function recordedStandardisation(preprocessing: Record<string, unknown>): Standardisation {
  const s = preprocessing['standardise'] as Partial<Standardisation> | undefined;
  if (!s || !Array.isArray(s.mean) || !Array.isArray(s.std)) throw new Error('data.json has no preprocessing.standardise statistics; was this run written by an older fitstream?');
  return s as Standardisation;
}

/** Checks that every row has `width` finite numbers, naming the first bad row. */
export function checkRows(rows: readonly (readonly number[])[], width: number, what: string): void {
  rows.forEach((row, i) => {
    if (row.length !== width) throw new FitstreamInputError(`row ${i + 1}`, `has ${row.length} values; ${what} needs ${width}.`);
    const bad = row.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
    if (bad >= 0) throw new FitstreamInputError(`row ${i + 1}`, `value ${bad + 1} is not a finite number: ${JSON.stringify(row[bad])}.`);
  });
}

/** Gathers rows of a pair of tensors. */
export function gatherPair(x: tf.Tensor, y: tf.Tensor, indices: Int32Array): { x: tf.Tensor; y: tf.Tensor } {
  return { x: tf.gather(x, indices), y: tf.gather(y, indices) };
}

/** Row indices of a hold-out split, as the datasets' and samplers' splitters return them. */
export interface SplitRows {
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/**
 * Gathers the two sides of a split and standardises both with the training side's statistics (iris, housing). Takes
 * ownership of `loaded`'s tensors: they and the unscaled rows are disposed.
 */
export function standardisedSplit(loaded: TensorPair, split: SplitRows): { train: TensorPair; validation: TensorPair; standardisation: Standardisation } {
  const rawTrain = gatherPair(loaded.x, loaded.y, split.train);
  const rawTest = gatherPair(loaded.x, loaded.y, split.test);
  const standardisation = fitStandardisation(rawTrain.x);
  const train = { x: standardise(rawTrain.x, standardisation), y: rawTrain.y };
  const validation = { x: standardise(rawTest.x, standardisation), y: rawTest.y };
  tf.dispose([rawTrain.x, rawTest.x, loaded.x, loaded.y]);
  return { train, validation, standardisation };
}

/** How a hold-out split was drawn, as `data.json` records it. */
export interface HoldoutSplit {
  readonly kind: string;
  readonly testFraction: number;
  readonly seed: number;
}

/** `data.json` of a hold-out split: the data set as loaded, how it was split and the rows on each side, the preprocessing. */
export function holdoutRecord(loaded: { readonly metadata: object; readonly cache: unknown }, how: HoldoutSplit, split: SplitRows, preprocessing: Record<string, unknown>) {
  return {
    dataset: { ...loaded.metadata, cache: loaded.cache },
    split: { kind: how.kind, testFraction: how.testFraction, seed: how.seed, train: split.train.length, validation: split.test.length },
    preprocessing,
  };
}

/** Raw feature rows (`width` finite numbers each) → model inputs, standardised with the statistics a run recorded. */
export function standardisedRows(rows: readonly (readonly number[])[], width: number, what: string, preprocessing: Record<string, unknown>): tf.Tensor2D {
  checkRows(rows, width, what);
  return tf.tidy(() => standardise(tf.tensor2d(rows.map((r) => [...r]), [rows.length, width]), recordedStandardisation(preprocessing)));
}
