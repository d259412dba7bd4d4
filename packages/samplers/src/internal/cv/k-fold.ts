import { FitstreamInputError } from '@fitstream/core';
import { encodeLabels } from '../util/labels.js';
import { checkSeed, streamOf } from '../util/streams.js';
import { range } from '../holdout/train-test-split.js';
import { checkSplits, complement, readInput, type Fold, type SplitInput, type Splitter } from './splitter.js';

/** Options of {@link kFold}. */
export interface KFoldOptions {
  /** Number of folds, ≥ 2 (default 5). */
  readonly nSplits?: number;
  /** Shuffle the samples before cutting folds (default `false`: folds are contiguous blocks). */
  readonly shuffle?: boolean;
  /** Seeds the shuffle (default 0). */
  readonly seed?: number | string;
}

/**
 * K-fold cross-validation (scikit-learn `KFold`): the first `n % k` folds hold `⌊n/k⌋ + 1` test samples, the others
 * `⌊n/k⌋`; without shuffling each test fold is a contiguous block. Train indices are ascending.
 *
 * @example
 * ```ts
 * for (const { fold, train, test } of kFold({ nSplits: 5, shuffle: true, seed: 1 }).split(100)) { … }
 * ```
 */
export function kFold(options: KFoldOptions = {}): Splitter {
  const { nSplits = 5, shuffle = false, seed = 0 } = options;
  checkSplits(nSplits, 'options.nSplits');
  checkSeed(seed, 'options.seed');
  return {
    name: 'kFold',
    nSplits: () => nSplits,
    *split(input: SplitInput): Iterable<Fold> {
      const { n } = readInput(input, {}, 'kFold');
      if (nSplits > n) throw new FitstreamInputError('options.nSplits', `is ${nSplits}, more than the ${n} samples; use at most ${n} folds (leave-one-out) or more samples.`);
      const order = shuffle ? streamOf(seed, 'k-fold').permutation(n) : range(0, n);
      let start = 0;
      for (let fold = 0; fold < nSplits; fold++) {
        const size = Math.floor(n / nSplits) + (fold < n % nSplits ? 1 : 0);
        const test = order.slice(start, start + size);
        start += size;
        yield { fold, repeat: 0, train: complement(n, test), test };
      }
    },
  };
}

/** Options of {@link stratifiedKFold}. */
export type StratifiedKFoldOptions = KFoldOptions;

/** Options of {@link repeatedStratifiedKFold}. */
export interface RepeatedStratifiedKFoldOptions {
  readonly nSplits?: number;
  /** Repeats, each with a different shuffle (default 10). */
  readonly nRepeats?: number;
  readonly seed?: number | string;
}

/** Test-fold assignment of scikit-learn's `StratifiedKFold._make_test_folds` (≥ 0.22). */
function stratifiedTestFolds(y: ArrayLike<number | string>, nSplits: number, shuffle: boolean, seed: number | string, repeat: number, warn: (m: string) => void): Int32Array {
  const { codes, counts, members, classes } = encodeLabels(y, 'input.y', 'first-appearance');
  if (counts.every((c) => c < nSplits)) {
    throw new FitstreamInputError('options.nSplits', `is ${nSplits}, more than the members of every class (largest class: ${Math.max(...counts)}); lower nSplits.`);
  }
  const least = Math.min(...counts);
  if (least < nSplits) warn(`stratifiedKFold: the least populated class in y has only ${least} members, which is less than nSplits=${nSplits}; some test folds will lack that class.`);
  // Deal the class-sorted labels round-robin to folds: fold i gets y_sorted[i::k], so every class is within one of
  // an even share per fold, and fold sizes are within one of each other.
  const k = classes.length;
  const allocation = Array.from({ length: nSplits }, () => new Array<number>(k).fill(0));
  let pos = 0;
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < counts[c]!; j++, pos++) allocation[pos % nSplits]![c]! += 1;
  }
  const testFolds = new Int32Array(codes.length);
  const random = shuffle ? streamOf(seed, 'stratified-k-fold', repeat) : undefined;
  for (let c = 0; c < k; c++) {
    const folds: number[] = [];
    for (let f = 0; f < nSplits; f++) for (let j = 0; j < allocation[f]![c]!; j++) folds.push(f);
    random?.derive('class', c).shuffleInPlace(folds);
    members[c]!.forEach((i, j) => (testFolds[i] = folds[j]!));
  }
  return testFolds;
}

function* foldsOf(testFolds: Int32Array, nSplits: number, repeat: number): Iterable<Fold> {
  for (let fold = 0; fold < nSplits; fold++) {
    const test: number[] = [];
    testFolds.forEach((f, i) => f === fold && test.push(i));
    yield { fold, repeat, train: complement(testFolds.length, test), test: Int32Array.from(test) };
  }
}

/** What the splitters do with scikit-learn's warnings (default: `console.warn`). */
export interface WarnOption {
  readonly warn?: (message: string) => void;
}

/**
 * Stratified k-fold (scikit-learn `StratifiedKFold`): each class is dealt round-robin over the folds, so every fold
 * holds each class within one sample of `n_c/k`. Classes are taken in order of first appearance; `shuffle` permutes
 * each class's fold assignment. Errors when every class is smaller than `nSplits`; warns when the smallest is.
 *
 * @example
 * ```ts
 * const folds = [...stratifiedKFold({ nSplits: 5, shuffle: true, seed: 0 }).split({ y: labels })];
 * ```
 */
export function stratifiedKFold(options: StratifiedKFoldOptions & WarnOption = {}): Splitter {
  const { nSplits = 5, shuffle = false, seed = 0, warn = (m: string) => console.warn(m) } = options;
  checkSplits(nSplits, 'options.nSplits');
  checkSeed(seed, 'options.seed');
  return {
    name: 'stratifiedKFold',
    nSplits: () => nSplits,
    split(input: SplitInput): Iterable<Fold> {
      const { y } = readInput(input, { y: true }, 'stratifiedKFold');
      return foldsOf(stratifiedTestFolds(y!, nSplits, shuffle, seed, 0, warn), nSplits, 0);
    },
  };
}

/**
 * Repeated stratified k-fold (scikit-learn `RepeatedStratifiedKFold`): `nRepeats` shuffled stratified k-folds, repeat
 * `r` drawn from the stream `(seed, r)`; each repeat is itself a partition.
 *
 * @example
 * ```ts
 * const splitter = repeatedStratifiedKFold({ nSplits: 5, nRepeats: 3, seed: 7 }); // 15 folds
 * ```
 */
export function repeatedStratifiedKFold(options: RepeatedStratifiedKFoldOptions & WarnOption = {}): Splitter {
  const { nSplits = 5, nRepeats = 10, seed = 0, warn = (m: string) => console.warn(m) } = options;
  checkSplits(nSplits, 'options.nSplits');
  checkSeed(seed, 'options.seed');
  if (!Number.isInteger(nRepeats) || nRepeats < 1) throw new FitstreamInputError('options.nRepeats', `must be an integer ≥ 1, got ${String(nRepeats)}.`);
  return {
    name: 'repeatedStratifiedKFold',
    nSplits: () => nSplits * nRepeats,
    *split(input: SplitInput): Iterable<Fold> {
      const { y } = readInput(input, { y: true }, 'repeatedStratifiedKFold');
      for (let r = 0; r < nRepeats; r++) yield* foldsOf(stratifiedTestFolds(y!, nSplits, true, seed, r, r === 0 ? warn : () => undefined), nSplits, r);
    },
  };
}
