import { FitstreamInputError, type Random } from '@fitstream/core';
import { approximateMode } from '../util/apportion.js';
import { encodeLabels, type Label } from '../util/labels.js';
import { checkSampleCount, checkSize, resolveTrainTest, type SplitSize } from '../util/sizes.js';
import { checkSeed, streamOf } from '../util/streams.js';

/** How a hold-out split draws its sides: shuffled or in order, stratified or not, from which seed. */
export interface HoldoutOptions {
  /** Shuffle before splitting (default `true`); `false` takes the sides in order, train from the head. */
  readonly shuffle?: boolean;
  /** Class labels, one per sample: each side keeps the class proportions (needs `shuffle: true`). */
  readonly stratify?: ArrayLike<Label>;
  /** Seeds the shuffle (default 0): the same inputs and seed give the same split in any process. */
  readonly seed?: number | string;
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions extends HoldoutOptions {
  /** Test size: a fraction in (0, 1) (`ceil(f·n)` samples) or a count. Default 0.25 when `trainSize` is also unset. */
  readonly testSize?: SplitSize;
  /** Train size: a fraction (`floor(f·n)` samples) or a count. Default: the complement of the test size. */
  readonly trainSize?: SplitSize;
}

/** The two sides of a hold-out split: sample indices, each in a seeded random order (or in order without shuffle). */
export interface TrainTestIndices {
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/** Options of {@link trainValTestSplit}. */
export interface TrainValTestSplitOptions extends HoldoutOptions {
  /** Test size, fraction of all samples (`ceil`) or a count. Default 0.2 (when `trainSize` is unset). */
  readonly testSize?: SplitSize;
  /** Validation size, fraction of all samples (`ceil`) or a count. Default 0.1 (when `trainSize` is unset). */
  readonly valSize?: SplitSize;
  /** Train size, fraction of all samples (`floor`) or a count. Default: what test and validation leave. */
  readonly trainSize?: SplitSize;
}

/** The three sides of a train/validation/test split. */
export interface TrainValTestIndices {
  readonly train: Int32Array;
  readonly val: Int32Array;
  readonly test: Int32Array;
}

/** Stratified sides: per-class counts by `_approximate_mode`, per-class seeded permutations, sides permuted. */
function stratifiedSides(labels: ArrayLike<Label>, n: number, sizes: readonly number[], names: readonly string[], random: Random): Int32Array[] {
  const argument = 'options.stratify';
  if (labels.length !== n) throw new FitstreamInputError(argument, `has ${labels.length} labels but there are ${n} samples; pass one label per sample.`);
  const { counts, members, classes } = encodeLabels(labels, argument);
  const lonely = counts.findIndex((c) => c < 2);
  if (lonely >= 0) {
    throw new FitstreamInputError(argument, `class ${JSON.stringify(classes[lonely])} has only 1 member; every class needs at least 2 to appear on both sides. Remove or merge that class, or split without stratify.`);
  }
  sizes.forEach((s, i) => {
    if (s < classes.length) {
      throw new FitstreamInputError(`options.${names[i]}`, `gives ${s} samples, fewer than the ${classes.length} classes; a stratified side needs at least one sample per class. Raise it to at least ${classes.length}.`);
    }
  });
  // scikit-learn's StratifiedShuffleSplit: allot the first side over the class counts, the next over what remains.
  let remaining = [...counts];
  const perSide = sizes.map((s) => {
    const alloc = approximateMode(remaining, s, random);
    remaining = remaining.map((r, k) => r - alloc[k]!);
    return alloc;
  });
  const sides = sizes.map((s) => ({ out: new Int32Array(s), fill: 0 }));
  members.forEach((m, k) => {
    const perm = random.permutation(m.length);
    let at = 0;
    perSide.forEach((alloc, side) => {
      const target = sides[side]!;
      for (let j = 0; j < alloc[k]!; j++) target.out[target.fill++] = m[perm[at++]!]!;
    });
  });
  return sides.map((s) => random.shuffleInPlace(s.out));
}

/** Checks `n` and the hold-out options, with their defaults applied. */
function holdout(n: number, options: HoldoutOptions): { shuffle: boolean; stratify: ArrayLike<Label> | undefined; seed: number | string } {
  checkSampleCount(n, 'n');
  const { shuffle = true, stratify, seed = 0 } = options;
  checkSeed(seed, 'options.seed');
  if (!shuffle && stratify !== undefined) {
    throw new FitstreamInputError('options.stratify', 'needs shuffle: true (a stratified split without shuffling is not defined, as in scikit-learn); drop shuffle: false or drop stratify.');
  }
  return { shuffle, stratify, seed };
}

/**
 * Splits `n` samples into train and test indices, with scikit-learn's `train_test_split` semantics: sizes as
 * fractions or counts (`ceil` for a fractional test size, `floor` for train), an optional stratified split that keeps
 * each class within one sample of its proportional share, and `shuffle: false` taking the head as train.
 *
 * @example
 * ```ts
 * const { train, test } = trainTestSplit(150, { testSize: 0.2, stratify: labels, seed: 42 });
 * // train.length === 120, test.length === 30, 10 of each Iris class in test
 * ```
 */
export function trainTestSplit(n: number, options: TrainTestSplitOptions = {}): TrainTestIndices {
  const { shuffle, stratify, seed } = holdout(n, options);
  const { nTrain, nTest } = resolveTrainTest(n, options.testSize, options.trainSize, 0.25);
  const random = streamOf(seed, 'train-test-split');
  if (!shuffle) return { train: range(0, nTrain), test: range(nTrain, nTrain + nTest) };
  if (stratify !== undefined) {
    const [train, test] = stratifiedSides(stratify, n, [nTrain, nTest], ['trainSize', 'testSize'], random);
    return { train: train!, test: test! };
  }
  const perm = random.permutation(n);
  return { test: perm.slice(0, nTest), train: perm.slice(nTest, nTest + nTrain) };
}

/**
 * Splits `n` samples three ways. Every size is relative to all `n` samples (fractions: `ceil` for test and
 * validation, `floor` for train; missing train = the rest), which avoids the compounded rounding of the usual
 * two-call recipe. With `stratify`, train is allotted over the class counts first, then validation and test over
 * what remains (scikit-learn's order): each side is within one sample per class of its share of what was left to it.
 *
 * @example
 * ```ts
 * const { train, val, test } = trainValTestSplit(1000, { valSize: 0.1, testSize: 0.2, stratify: labels, seed: 1 });
 * ```
 */
export function trainValTestSplit(n: number, options: TrainValTestSplitOptions = {}): TrainValTestIndices {
  const { shuffle, stratify, seed } = holdout(n, options);
  const defaults = options.trainSize === undefined;
  const testSize = options.testSize ?? (defaults ? 0.2 : undefined);
  const valSize = options.valSize ?? (defaults ? 0.1 : undefined);
  const count = (v: SplitSize | undefined, arg: string, round: (x: number) => number): number | undefined =>
    v === undefined ? undefined : checkSize(v, n, arg) === 'fraction' ? round(v * n) : v;
  const fractions = [options.trainSize, testSize, valSize].filter((v): v is number => v !== undefined && v < 1);
  if (fractions.length === 3 && fractions.reduce((a, b) => a + b, 0) > 1 + 1e-12) {
    throw new FitstreamInputError('options', `trainSize + valSize + testSize add up to ${fractions.reduce((a, b) => a + b, 0)}, more than 1; lower one of them.`);
  }
  const nTest = count(testSize, 'options.testSize', Math.ceil);
  const nVal = count(valSize, 'options.valSize', Math.ceil);
  let nTrain = count(options.trainSize, 'options.trainSize', Math.floor);
  if (nTest === undefined || nVal === undefined) {
    throw new FitstreamInputError(nTest === undefined ? 'options.testSize' : 'options.valSize', 'is required when trainSize is given; pass both valSize and testSize.');
  }
  nTrain ??= n - nTest - nVal;
  if (nTrain + nTest + nVal > n) {
    throw new FitstreamInputError('options', `the sizes give train ${nTrain} + validation ${nVal} + test ${nTest} = ${nTrain + nVal + nTest} samples, more than the ${n} there are; lower one of them.`);
  }
  if (nTrain <= 0) throw new FitstreamInputError('options.trainSize', `the train side would be empty (n = ${n}, validation ${nVal}, test ${nTest}); lower valSize or testSize.`);
  const random = streamOf(seed, 'train-val-test-split');
  if (!shuffle) return { train: range(0, nTrain), val: range(nTrain, nTrain + nVal), test: range(nTrain + nVal, nTrain + nVal + nTest) };
  if (stratify !== undefined) {
    const [train, val, test] = stratifiedSides(stratify, n, [nTrain, nVal, nTest], ['trainSize', 'valSize', 'testSize'], random);
    return { train: train!, val: val!, test: test! };
  }
  const perm = random.permutation(n);
  return { test: perm.slice(0, nTest), val: perm.slice(nTest, nTest + nVal), train: perm.slice(nTest + nVal, nTest + nVal + nTrain) };
}

/** `[start, end)` as an Int32Array. */
export function range(start: number, end: number): Int32Array {
  const out = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
