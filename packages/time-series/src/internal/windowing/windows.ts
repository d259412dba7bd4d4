import { FitstreamInputError } from '@fitstream/core';
import { checkInteger } from '../util/checks.js';

/**
 * How a series is cut into (input, target) windows. Window `i` of a range `[start, end)` has inputs at
 * `p, p + r, …, p + (L−1)·r` with `p = start + i·stride`, and targets at `last + offset, …, last + offset + horizon − 1`
 * where `last = p + (L−1)·r` is its last input.
 */
export interface WindowSpec {
  /** Inputs per window, `L ≥ 1`. */
  readonly inputLength: number;
  /** Consecutive target steps per window (default 1). `0`: input-only windows, as Keras `timeseries_dataset_from_array` without targets. */
  readonly horizon?: number;
  /** Steps from the last input to the first target (default 1: next-step prediction). */
  readonly offset?: number;
  /** Steps between window starts (default 1). */
  readonly stride?: number;
  /** Steps between inputs of one window (default 1). */
  readonly samplingRate?: number;
  /**
   * Let inputs reach back before `start` (down to index 0) while every *target* stays in `[start, end)`: the first
   * validation window's history then lies in the training span, which is legitimate; targets never cross. Default `false`.
   */
  readonly allowHistoryOverlap?: boolean;
}

/** The windows of one split: a count and the series indices of each window's inputs and targets. */
export interface Windows {
  readonly count: number;
  readonly spec: Required<WindowSpec>;
  /** The first input index of window `i`. */
  startOf(i: number): number;
  inputIndex(i: number): Int32Array;
  targetIndex(i: number): Int32Array;
  /** The smallest and largest index any window reads (inputs and targets), or `undefined` when there are none. */
  readonly span: readonly [first: number, last: number] | undefined;
}

/** Fills in the defaults of a window spec and checks it. */
export function normaliseSpec(spec: WindowSpec, argument = 'spec'): Required<WindowSpec> {
  if (spec == null || typeof spec !== 'object') throw new FitstreamInputError(argument, 'must be { inputLength, horizon?, offset?, stride?, samplingRate? }.');
  const full = {
    inputLength: spec.inputLength,
    horizon: spec.horizon ?? 1,
    offset: spec.offset ?? 1,
    stride: spec.stride ?? 1,
    samplingRate: spec.samplingRate ?? 1,
    allowHistoryOverlap: spec.allowHistoryOverlap ?? false,
  };
  checkInteger(full.inputLength, `${argument}.inputLength`, 1);
  checkInteger(full.horizon, `${argument}.horizon`, 0);
  checkInteger(full.offset, `${argument}.offset`, 0);
  checkInteger(full.stride, `${argument}.stride`, 1);
  checkInteger(full.samplingRate, `${argument}.samplingRate`, 1);
  return full;
}

/** Distance from a window's first input to its last index read (its last target, or its last input when horizon is 0). */
export function windowSpan(spec: Required<WindowSpec>): number {
  const lastInput = (spec.inputLength - 1) * spec.samplingRate;
  return spec.horizon > 0 ? lastInput + spec.offset + spec.horizon - 1 : lastInput;
}

/**
 * The number of windows in `[start, end)`: `max(0, ⌊(end − 1 − span − start) / stride⌋ + 1)` with
 * `span = (L−1)·r + offset + horizon − 1`. With `horizon: 0` this is Keras's count
 * `⌈(end − start − (L−1)·r) / stride⌉` (99 points, L 10, r 2, stride 3 → 27).
 */
export function windowCount(range: readonly [number, number] | number, spec: WindowSpec): number {
  return windows(range, spec).count;
}

/**
 * The windows of ONE split `[start, end)` of a series (split on time first, then window each split). No window reads
 * an index outside the range — except inputs before `start` with `allowHistoryOverlap` — so no target crosses a
 * split boundary.
 *
 * @example
 * ```ts
 * const w = windows([0, 100], { inputLength: 7, horizon: 3 });
 * w.count;            // 91
 * w.inputIndex(0);    // [0 … 6]
 * w.targetIndex(0);   // [7, 8, 9]
 * ```
 */
export function windows(range: readonly [number, number] | number, spec: WindowSpec): Windows {
  const s = normaliseSpec(spec);
  const [start, end] = typeof range === 'number' ? [0, range] : range;
  checkInteger(start, 'range[0] (start)', 0);
  checkInteger(end, 'range[1] (end)', start);
  const span = windowSpan(s);
  const lastInput = (s.inputLength - 1) * s.samplingRate;
  // With history overlap the first window is the one whose first target lands on `start` (inputs may precede it).
  const first = s.allowHistoryOverlap && s.horizon > 0 ? Math.max(0, start - lastInput - s.offset) : start;
  const room = end - 1 - span - first;
  const count = room < 0 ? 0 : Math.floor(room / s.stride) + 1;
  const startOf = (i: number): number => {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new FitstreamInputError('i', `window ${String(i)} is outside [0, ${count}).`);
    return first + i * s.stride;
  };
  return {
    count,
    spec: s,
    startOf,
    inputIndex: (i) => {
      const p = startOf(i);
      const out = new Int32Array(s.inputLength);
      for (let j = 0; j < s.inputLength; j++) out[j] = p + j * s.samplingRate;
      return out;
    },
    targetIndex: (i) => {
      const t0 = startOf(i) + lastInput + s.offset;
      const out = new Int32Array(s.horizon);
      for (let j = 0; j < s.horizon; j++) out[j] = t0 + j;
      return out;
    },
    span: count === 0 ? undefined : [first, first + (count - 1) * s.stride + span],
  };
}

/** Contiguous time spans of a series, each `[start, end)`. */
export interface TemporalSplits {
  readonly train: readonly [number, number];
  readonly val?: readonly [number, number];
  readonly test: readonly [number, number];
}

/** Options of {@link temporalSplit}: sizes as counts (integers ≥ 1) or fractions in (0, 1) of the series. */
export interface TemporalSplitOptions {
  readonly test: number;
  readonly val?: number;
  /** Steps left out between consecutive spans (default 0), e.g. the horizon, so that no target is adjacent. */
  readonly gap?: number;
}

function sizeOf(value: number, n: number, argument: string): number {
  if (typeof value !== 'number' || !(value > 0)) throw new FitstreamInputError(argument, `must be a count ≥ 1 or a fraction in (0, 1), got ${String(value)}.`);
  if (value < 1) return Math.max(1, Math.round(value * n));
  if (!Number.isInteger(value)) throw new FitstreamInputError(argument, `must be an integer count or a fraction in (0, 1), got ${value}.`);
  return value;
}

/**
 * Splits `[0, n)` on time: train first, then validation, then test, each contiguous; never shuffled. Window each span
 * with {@link windows} afterwards.
 *
 * @example
 * ```ts
 * const { train, val, test } = temporalSplit(1000, { val: 0.1, test: 0.2 }); // [0,700) [700,800) [800,1000)
 * ```
 */
export function temporalSplit(n: number, options: TemporalSplitOptions): TemporalSplits {
  checkInteger(n, 'n', 2);
  const gap = options.gap ?? 0;
  checkInteger(gap, 'options.gap', 0);
  const test = sizeOf(options.test, n, 'options.test');
  const val = options.val === undefined ? 0 : sizeOf(options.val, n, 'options.val');
  const trainEnd = n - test - gap - (val > 0 ? val + gap : 0);
  if (trainEnd < 1) throw new FitstreamInputError('options', `test ${test} + val ${val} + gaps leave no training data in ${n} steps.`);
  const testStart = n - test;
  return val > 0
    ? { train: [0, trainEnd], val: [trainEnd + gap, trainEnd + gap + val], test: [testStart, n] }
    : { train: [0, trainEnd], test: [testStart, n] };
}
