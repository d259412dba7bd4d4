import { FitstreamInputError } from '@fitstream/core';
import { approximateMode } from '../util/apportion.js';
import { encodeLabels, type Label } from '../util/labels.js';
import { resolveTrainTest, type SplitSize } from '../util/sizes.js';
import { checkSeed, streamOf } from '../util/streams.js';
import { readInput, type Fold, type SplitInput, type Splitter } from './splitter.js';

/** Options of {@link shuffleSplit} and {@link stratifiedShuffleSplit}. */
export interface ShuffleSplitOptions {
  /** Number of re-shuffling iterations (default 10). */
  readonly nSplits?: number;
  /** Fraction (`ceil`) or count. Default 0.1 when `trainSize` is also unset. */
  readonly testSize?: SplitSize;
  /** Fraction (`floor`) or count. Default: the complement of the test size. */
  readonly trainSize?: SplitSize;
  readonly seed?: number | string;
}

function checkIterations(k: unknown): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new FitstreamInputError('options.nSplits', `must be an integer ≥ 1, got ${String(k)}.`);
}

/** One input as a re-shuffling splitter sees it: its samples (and labels), the side sizes, and the options. */
interface Reshuffle {
  readonly n: number;
  readonly y: ArrayLike<Label> | undefined;
  readonly nTrain: number;
  readonly nTest: number;
  readonly nSplits: number;
  readonly seed: number | string;
}

/** A splitter of `nSplits` seeded re-shuffles: the options are checked once, the sizes resolved per input, `draw` yields the folds. */
function reshuffling(name: string, options: ShuffleSplitOptions, needsLabels: boolean, draw: (r: Reshuffle) => Iterable<Fold>): Splitter {
  const { nSplits = 10, seed = 0 } = options;
  checkIterations(nSplits);
  checkSeed(seed, 'options.seed');
  return {
    name,
    nSplits: () => nSplits,
    *split(input: SplitInput): Iterable<Fold> {
      const { n, y } = readInput(input, needsLabels ? { y: true } : {}, name);
      const { nTrain, nTest } = resolveTrainTest(n, options.testSize, options.trainSize, 0.1);
      yield* draw({ n, y, nTrain, nTest, nSplits, seed });
    },
  };
}

/**
 * Random permutation cross-validation (scikit-learn `ShuffleSplit`): split `i` permutes the samples with the stream
 * `(seed, i)`, takes the first `nTest` as test and the next `nTrain` as train. Test sets of different splits may
 * overlap; that is the point (Monte Carlo cross-validation).
 *
 * @example
 * ```ts
 * const splits = [...shuffleSplit({ nSplits: 20, testSize: 0.2, seed: 3 }).split(500)];
 * ```
 */
export function shuffleSplit(options: ShuffleSplitOptions = {}): Splitter {
  return reshuffling('shuffleSplit', options, false, function* ({ n, nTrain, nTest, nSplits, seed }) {
    for (let fold = 0; fold < nSplits; fold++) {
      const perm = streamOf(seed, 'shuffle-split', fold).permutation(n);
      yield { fold, repeat: 0, test: perm.slice(0, nTest), train: perm.slice(nTest, nTest + nTrain) };
    }
  });
}

/**
 * Stratified shuffle split (scikit-learn `StratifiedShuffleSplit`): like {@link shuffleSplit} but each side keeps the
 * class proportions (per-class counts by `_approximate_mode`: within one sample of proportional). Each class needs
 * ≥ 2 members and each side ≥ one sample per class.
 *
 * @example
 * ```ts
 * const splits = stratifiedShuffleSplit({ nSplits: 5, testSize: 0.25, seed: 0 }).split({ y: labels });
 * ```
 */
export function stratifiedShuffleSplit(options: ShuffleSplitOptions = {}): Splitter {
  return reshuffling('stratifiedShuffleSplit', options, true, function* ({ y, nTrain, nTest, nSplits, seed }) {
    const { counts, members, classes } = encodeLabels(y!, 'input.y');
    const lonely = counts.findIndex((c) => c < 2);
    if (lonely >= 0) throw new FitstreamInputError('input.y', `class ${JSON.stringify(classes[lonely])} has only 1 member; stratified splits need at least 2 per class. Remove or merge that class.`);
    for (const [size, arg] of [[nTrain, 'trainSize'], [nTest, 'testSize']] as const) {
      if (size < classes.length) throw new FitstreamInputError(`options.${arg}`, `gives ${size} samples, fewer than the ${classes.length} classes; raise it to at least ${classes.length}.`);
    }
    for (let fold = 0; fold < nSplits; fold++) {
      const random = streamOf(seed, 'stratified-shuffle-split', fold);
      const trainAlloc = approximateMode(counts, nTrain, random);
      const testAlloc = approximateMode(counts.map((c, k) => c - trainAlloc[k]!), nTest, random);
      const train: number[] = [];
      const test: number[] = [];
      members.forEach((m, k) => {
        const perm = random.permutation(m.length);
        for (let j = 0; j < trainAlloc[k]!; j++) train.push(m[perm[j]!]!);
        for (let j = 0; j < testAlloc[k]!; j++) test.push(m[perm[trainAlloc[k]! + j]!]!);
      });
      yield { fold, repeat: 0, train: random.shuffleInPlace(Int32Array.from(train)), test: random.shuffleInPlace(Int32Array.from(test)) };
    }
  });
}
