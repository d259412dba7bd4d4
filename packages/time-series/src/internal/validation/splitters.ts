import { FitstreamInputError } from '@fitstream/core';
import type { Fold, SplitInput, Splitter } from '@fitstream/samplers';
import { checkInteger } from '../util/checks.js';

/** A walk-forward fold: contiguous train and test spans, `[start, end)`, with the indices as `Int32Array`s. */
export interface TimeFold extends Fold {
  readonly trainRange: readonly [number, number];
  /** The test span; for horizons with holes (`fh: [2, 4]`) the span from the first to the last test index. */
  readonly testRange: readonly [number, number];
  /** The last training index (sktime's cutoff). */
  readonly cutoff: number;
  /** Steps left out between the last training index and the first test index. */
  readonly gap: number;
}

/** A splitter over time: every fold trains only on the past. Compatible with `@fitstream/samplers`' `crossValidate`. */
export interface TimeSplitter extends Splitter {
  split(input: SplitInput): Iterable<TimeFold>;
}

function lengthOf(input: SplitInput, who: string): number {
  const n = typeof input === 'number' ? input : (input?.n ?? input?.y?.length ?? input?.groups?.length);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new FitstreamInputError('input', `${who}.split(input): pass the series length (an integer ≥ 1), got ${String(n)}.`);
  if (typeof input === 'object' && input.groups !== undefined) console.warn(`${who}: groups are ignored (scikit-learn warns the same); folds follow time order only.`);
  return n;
}

function range(start: number, end: number): Int32Array {
  const out = new Int32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}

function fold(index: number, train: readonly [number, number], test: Int32Array): TimeFold {
  const cutoff = train[1] - 1;
  return {
    fold: index,
    repeat: 0,
    train: range(train[0], train[1]),
    test,
    trainRange: train,
    testRange: [test[0]!, test[test.length - 1]! + 1],
    cutoff,
    gap: test[0]! - cutoff - 1,
  };
}

/** Options of {@link timeSeriesSplit} (scikit-learn `TimeSeriesSplit`). */
export interface TimeSeriesSplitOptions {
  /** Folds (default 5, ≥ 2). */
  readonly nSplits?: number;
  /** Test points per fold (default `⌊n / (nSplits + 1)⌋`). */
  readonly testSize?: number;
  /** Points left out between train and test (default 0). */
  readonly gap?: number;
  /** Keep only the last `maxTrainSize` training points (default unbounded; 0 also means unbounded, as in scikit-learn). */
  readonly maxTrainSize?: number;
}

/**
 * scikit-learn's `TimeSeriesSplit`, exactly: test blocks `[n − k·t + i·t, … + t)` end at `n − 1`, the first training
 * set absorbs the remainder, train is `[0, testStart − gap)` (its last `maxTrainSize` points when bounded).
 *
 * @example
 * ```ts
 * [...timeSeriesSplit({ nSplits: 3 }).split(10)].map((f) => [f.trainRange, f.testRange]);
 * // [[[0,4],[4,6]], [[0,6],[6,8]], [[0,8],[8,10]]]
 * ```
 */
export function timeSeriesSplit(options: TimeSeriesSplitOptions = {}): TimeSplitter {
  const k = options.nSplits ?? 5;
  const gap = options.gap ?? 0;
  checkInteger(k, 'options.nSplits', 2);
  checkInteger(gap, 'options.gap', 0);
  if (options.testSize !== undefined) checkInteger(options.testSize, 'options.testSize', 1);
  if (options.maxTrainSize !== undefined) checkInteger(options.maxTrainSize, 'options.maxTrainSize', 0);
  return {
    name: 'time-series-split',
    nSplits: () => k,
    *split(input) {
      const n = lengthOf(input, 'timeSeriesSplit');
      const testSize = options.testSize ?? Math.floor(n / (k + 1));
      if (k + 1 > n) throw new FitstreamInputError('options.nSplits', `${k} folds need more than ${k} samples, got ${n}.`);
      if (testSize < 1 || n - gap - testSize * k <= 0) {
        throw new FitstreamInputError('options', `too many splits (${k}) for ${n} samples with testSize ${testSize} and gap ${gap}: ${n} − ${gap} − ${testSize}·${k} ≤ 0 leaves no training data.`);
      }
      for (let i = 0; i < k; i++) {
        const testStart = n - k * testSize + i * testSize;
        const trainEnd = testStart - gap;
        const max = options.maxTrainSize;
        const trainStart = max && max < trainEnd ? trainEnd - max : 0;
        yield fold(i, [trainStart, trainEnd], range(testStart, testStart + testSize));
      }
    },
  };
}

/** A forecasting horizon: steps after the cutoff, `1` = the next step. A number `h` means `[1 … h]`. */
export type ForecastHorizon = number | readonly number[];

function horizonSteps(fh: ForecastHorizon, argument: string): number[] {
  const steps = typeof fh === 'number' ? (checkInteger(fh, argument, 1), Array.from({ length: fh }, (_, i) => i + 1)) : [...fh];
  if (steps.length === 0) throw new FitstreamInputError(argument, 'must name at least one step.');
  steps.forEach((s, i) => checkInteger(s, `${argument}[${i}]`, 1));
  return steps.sort((a, b) => a - b);
}

/** The options every walk-forward splitter takes: where the cutoffs fall and what each fold tests. */
export interface WalkForwardOptions {
  /** Steps between cutoffs (default 1). */
  readonly stepLength?: number;
  /** Test steps after each cutoff (default 1; `[2, 4]` leaves holes, which act as a gap). */
  readonly fh?: ForecastHorizon;
}

/** Options of {@link expandingWindow} (sktime `ExpandingWindowSplitter`). */
export interface ExpandingWindowOptions extends WalkForwardOptions {
  /** Training points of the first fold (default 10). */
  readonly initialWindow?: number;
}

/**
 * Expanding-window walk-forward (sktime semantics): cutoffs `initialWindow − 1 + j·stepLength`, train `[0, cutoff]`,
 * test `cutoff + fh`; folds continue while the whole test set lies inside the data. `train_i ⊂ train_{i+1}`.
 *
 * @example
 * ```ts
 * [...expandingWindow({ initialWindow: 5, stepLength: 2, fh: [2, 4] }).split(10)].map((f) => [...f.test]); // [[6, 8]]
 * ```
 */
export function expandingWindow(options: ExpandingWindowOptions = {}): TimeSplitter {
  const initial = options.initialWindow ?? 10;
  checkInteger(initial, 'options.initialWindow', 1);
  return walkForward('expanding-window', options, initial, () => 0);
}

/** Options of {@link slidingWindow} (sktime `SlidingWindowSplitter`). */
export interface SlidingWindowOptions extends WalkForwardOptions {
  /** Training points per fold (default 10). */
  readonly windowLength?: number;
  /** A longer first training window `[0, initialWindow)`; later folds slide with `windowLength`. */
  readonly initialWindow?: number;
}

/**
 * Sliding-window walk-forward (sktime semantics): train `[cutoff − windowLength + 1, cutoff]` of constant size,
 * cutoffs `windowLength − 1 + j·stepLength` (or from `initialWindow − 1`), test `cutoff + fh`.
 *
 * @example
 * ```ts
 * [...slidingWindow({ windowLength: 4, stepLength: 2, fh: 1 }).split(10)].map((f) => f.trainRange); // [0,4] [2,6] [4,8]
 * ```
 */
export function slidingWindow(options: SlidingWindowOptions = {}): TimeSplitter {
  const w = options.windowLength ?? 10;
  checkInteger(w, 'options.windowLength', 1);
  if (options.initialWindow !== undefined) checkInteger(options.initialWindow, 'options.initialWindow', 1);
  const initial = options.initialWindow ?? w;
  return walkForward('sliding-window', options, initial, (cutoff, first) => (first && options.initialWindow !== undefined ? 0 : Math.max(0, cutoff - w + 1)));
}

/** Cutoffs `initial − 1 + j·step`, each fold training on `[trainStart(cutoff), cutoff]` and testing `cutoff + fh`. */
function walkForward(name: string, options: WalkForwardOptions, initial: number, trainStart: (cutoff: number, first: boolean) => number): TimeSplitter {
  const step = options.stepLength ?? 1;
  checkInteger(step, 'options.stepLength', 1);
  const fh = horizonSteps(options.fh ?? 1, 'options.fh');
  const maxH = fh[fh.length - 1]!;
  const count = (n: number) => (n - 1 - maxH - (initial - 1) < 0 ? 0 : Math.floor((n - 1 - maxH - (initial - 1)) / step) + 1);
  let lastN: number | undefined;
  return {
    name,
    nSplits: () => {
      if (lastN === undefined) throw new Error(`${name}.nSplits() depends on the series length; call split(n) first.`);
      return count(lastN);
    },
    *split(input) {
      const n = lengthOf(input, name);
      lastN = n;
      const folds = count(n);
      if (folds === 0) throw new FitstreamInputError('input', `${name}: ${n} steps leave no fold (initial window ${initial} plus horizon ${maxH}).`);
      for (let j = 0; j < folds; j++) {
        const cutoff = initial - 1 + j * step;
        yield fold(j, [trainStart(cutoff, j === 0), cutoff + 1], Int32Array.from(fh, (h) => cutoff + h));
      }
    },
  };
}
