import { FitstreamInputError, type Json } from '@fitstream/core';
import { toMatrix, type SeriesData, type SeriesMatrix } from '../windowing/series-data.js';

/** A fitted scaler: per-column `(x − center) / scale`; `inverse` maps model outputs back to original units. */
export interface FittedScaler {
  readonly kind: string;
  readonly center: readonly number[];
  readonly scale: readonly number[];
  /** Scales every column of a series (same layout back: values or rows). */
  transform(data: SeriesData): Float64Array | Float64Array[];
  /** Scales values of one column (default 0). */
  transformColumn(values: ArrayLike<number>, column?: number): Float64Array;
  /** Back to original units, for values of one column (default 0: the target). */
  inverse(values: ArrayLike<number>, column?: number): Float64Array;
  /** The fitted statistics, plain JSON (what a leakage canary compares). */
  toJSON(): Json;
}

/** Fits on training data only: pass the training span, never the whole series. */
export interface Scaler {
  readonly kind: string;
  /** Fits on `data`, or on `data[range[0] … range[1])` when a range is given. */
  fit(data: SeriesData, range?: readonly [number, number]): FittedScaler;
}

function sliceRows(m: SeriesMatrix, range: readonly [number, number] | undefined): SeriesMatrix {
  if (!range) return m;
  const [a, b] = range;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > m.length || b <= a) throw new FitstreamInputError('range', `must be [start, end) inside [0, ${m.length}] with start < end, got [${a}, ${b}).`);
  return { length: b - a, dims: m.dims, values: m.values.subarray(a * m.dims, b * m.dims) };
}

function columnValues(m: SeriesMatrix, c: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let t = 0; t < m.length; t++) out[t] = m.values[t * m.dims + c]!;
  return out;
}

/** Linear-interpolated quantile of sorted values (numpy's default). */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function makeScaler(kind: string, stats: (values: Float64Array) => { center: number; scale: number }): Scaler {
  return {
    kind,
    fit(data, range) {
      const m = sliceRows(toMatrix(data, `${kind}.fit(data)`), range);
      const center: number[] = [];
      const scale: number[] = [];
      for (let c = 0; c < m.dims; c++) {
        const s = stats(columnValues(m, c));
        center.push(s.center);
        // A constant column scales by 1 (scikit-learn's choice), so transform stays finite and inverse exact.
        scale.push(s.scale > 0 && Number.isFinite(s.scale) ? s.scale : 1);
      }
      const checkColumn = (column: number) => {
        if (!Number.isInteger(column) || column < 0 || column >= m.dims) throw new FitstreamInputError('column', `${column} is outside the ${m.dims} fitted column(s).`);
      };
      return {
        kind,
        center,
        scale,
        transform(input) {
          const x = toMatrix(input, `${kind}.transform(data)`);
          if (x.dims !== m.dims) throw new FitstreamInputError('data', `has ${x.dims} column(s); the scaler was fitted on ${m.dims}.`);
          const out = new Float64Array(x.values.length);
          for (let i = 0; i < out.length; i++) out[i] = (x.values[i]! - center[i % m.dims]!) / scale[i % m.dims]!;
          const rows = input.length > 0 && typeof (input as ArrayLike<unknown>)[0] === 'object';
          if (!rows) return out;
          return Array.from({ length: x.length }, (_, t) => out.slice(t * m.dims, (t + 1) * m.dims));
        },
        transformColumn(values, column = 0) {
          checkColumn(column);
          return Float64Array.from(values, (v) => (v - center[column]!) / scale[column]!);
        },
        inverse(values, column = 0) {
          checkColumn(column);
          return Float64Array.from(values, (v) => v * scale[column]! + center[column]!);
        },
        toJSON: () => ({ kind, center: [...center], scale: [...scale] }),
      };
    },
  };
}

/**
 * Standardises each column to zero mean and unit (population) standard deviation, like scikit-learn's `StandardScaler`.
 *
 * @example
 * ```ts
 * const scaler = standardScaler().fit(series, [0, trainEnd]); // statistics of the training span only
 * const z = scaler.transformColumn(series);
 * const back = scaler.inverse(predictions);                     // original units, for metrics
 * ```
 */
export function standardScaler(): Scaler {
  return makeScaler('standard', (v) => {
    let mean = 0;
    for (const x of v) mean += x;
    mean /= v.length;
    let ss = 0;
    for (const x of v) ss += (x - mean) ** 2;
    return { center: mean, scale: Math.sqrt(ss / v.length) };
  });
}

/** Options of {@link minMaxScaler}. */
export interface MinMaxScalerOptions {
  /** Target range (default `[0, 1]`). */
  readonly featureRange?: readonly [number, number];
}

/**
 * Maps each column's training minimum and maximum onto `featureRange` (default `[0, 1]`). Test values outside the
 * training range map outside it: that is information, not an error.
 *
 * @example
 * ```ts
 * const scaler = minMaxScaler({ featureRange: [-1, 1] }).fit(trainSeries);
 * ```
 */
export function minMaxScaler(options: MinMaxScalerOptions = {}): Scaler {
  const [lo, hi] = options.featureRange ?? [0, 1];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) throw new FitstreamInputError('options.featureRange', `must be [min, max] with min < max, got [${lo}, ${hi}].`);
  return makeScaler('min-max', (v) => {
    let min = Infinity;
    let max = -Infinity;
    for (const x of v) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const scale = (max - min) / (hi - lo);
    return { center: min - lo * scale, scale };
  });
}

/** Options of {@link robustScaler}. */
export interface RobustScalerOptions {
  /** Quantiles whose distance is the scale (default `[0.25, 0.75]`: the interquartile range). */
  readonly quantileRange?: readonly [number, number];
}

/**
 * Centres on the median and divides by the interquartile range (scikit-learn's `RobustScaler`): outliers in the
 * training span barely move the statistics.
 *
 * @example
 * ```ts
 * const scaler = robustScaler().fit(sensorReadings, [0, 2000]);
 * ```
 */
export function robustScaler(options: RobustScalerOptions = {}): Scaler {
  const [q1, q3] = options.quantileRange ?? [0.25, 0.75];
  if (!(q1 >= 0 && q3 <= 1 && q1 < q3)) throw new FitstreamInputError('options.quantileRange', `must be [q1, q3] with 0 ≤ q1 < q3 ≤ 1, got [${q1}, ${q3}].`);
  return makeScaler('robust', (v) => {
    const sorted = Float64Array.from(v).sort();
    return { center: quantileSorted(sorted, 0.5), scale: quantileSorted(sorted, q3) - quantileSorted(sorted, q1) };
  });
}
