import { FitstreamInputError } from '@fitstream/core';
import { checkInteger, checkSeries } from '../util/checks.js';

/**
 * A forecaster of one univariate series: `fit` on a training span, then `predict(history, horizon)` — the next
 * `horizon` values after `history` (the series up to the cutoff). Values are in whatever space the caller works in
 * (a backtest passes scaled values when it has a scaler).
 */
export interface Forecaster {
  readonly name: string;
  fit?(train: Float64Array): void | Promise<void>;
  predict(history: Float64Array, horizon: number): Float64Array | Promise<Float64Array>;
  dispose?(): void;
}

function check(history: ArrayLike<number>, horizon: number, name: string, min = 1): void {
  checkSeries(history, `${name}: history`, min);
  checkInteger(horizon, `${name}: horizon`, 1);
}

/**
 * Persistence (naive, random walk): every step repeats the last observed value. Darts `NaiveSeasonal(K=1)`, sktime
 * `NaiveForecaster('last')`.
 *
 * @example
 * ```ts
 * persistence().predict(Float64Array.of(1, 2, 3), 2); // [3, 3]
 * ```
 */
export function persistence(): Forecaster {
  return {
    name: 'persistence',
    predict: (history, horizon) => {
      check(history, horizon, 'persistence');
      return new Float64Array(horizon).fill(history[history.length - 1]!);
    },
  };
}

/**
 * Seasonal naive with period `m`: `ŷ_{T+h} = y_{T+h−m·⌈h/m⌉}` — the last full season repeated. Falls back to
 * persistence when the history is shorter than `m`.
 *
 * @example
 * ```ts
 * seasonalNaive(7).predict(lastFiveWeeks, 7); // last week again
 * ```
 */
export function seasonalNaive(m: number): Forecaster {
  checkInteger(m, 'm', 1);
  return {
    name: m === 1 ? 'persistence' : `seasonal-naive(${m})`,
    predict: (history, horizon) => {
      check(history, horizon, `seasonalNaive(${m})`);
      const T = history.length;
      if (T < m) return new Float64Array(horizon).fill(history[T - 1]!);
      return Float64Array.from({ length: horizon }, (_, i) => history[T - m + (i % m)]!);
    },
  };
}

/**
 * Drift: the line through the first and last observations, `ŷ_{T+h} = y_T + h·(y_T − y_1)/(T − 1)` (Darts `NaiveDrift`,
 * sktime `'drift'`).
 *
 * @example
 * ```ts
 * drift().predict(Float64Array.of(1, 2, 3), 2); // [4, 5]
 * ```
 */
export function drift(): Forecaster {
  return {
    name: 'drift',
    predict: (history, horizon) => {
      check(history, horizon, 'drift', 2);
      const T = history.length;
      const slope = (history[T - 1]! - history[0]!) / (T - 1);
      return Float64Array.from({ length: horizon }, (_, i) => history[T - 1]! + (i + 1) * slope);
    },
  };
}

/** Options of {@link meanForecast}. */
export interface MeanForecastOptions {
  /** Average only the last `window` values (default all). */
  readonly window?: number;
}

/**
 * The mean of the history (or of its last `window` values) at every step (Darts `NaiveMean`, sktime `'mean'`).
 *
 * @example
 * ```ts
 * meanForecast().predict(Float64Array.of(1, 2, 3), 2); // [2, 2]
 * ```
 */
export function meanForecast(options: MeanForecastOptions = {}): Forecaster {
  if (options.window !== undefined) checkInteger(options.window, 'options.window', 1);
  return {
    name: 'mean',
    predict: (history, horizon) => {
      check(history, horizon, 'meanForecast');
      const from = options.window === undefined ? 0 : Math.max(0, history.length - options.window);
      let s = 0;
      for (let t = from; t < history.length; t++) s += history[t]!;
      return new Float64Array(horizon).fill(s / (history.length - from));
    },
  };
}

/** The baselines every backtest report includes: persistence, seasonal naive (when `m > 1`), drift and mean. */
export function defaultBaselines(m: number): Forecaster[] {
  if (!Number.isInteger(m) || m < 1) throw new FitstreamInputError('m', `must be an integer ≥ 1, got ${String(m)}.`);
  return [persistence(), ...(m > 1 ? [seasonalNaive(m)] : []), drift(), meanForecast()];
}
