import { FitstreamInputError } from '@fitstream/core';
import { checkPair, checkSeries } from '../util/checks.js';

/** Mean absolute error. */
export function mae(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkPair(actual, predicted, 'mae');
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs(actual[i]! - predicted[i]!);
  return s / actual.length;
}

/** Root mean squared error. */
export function rmse(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkPair(actual, predicted, 'rmse');
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += (actual[i]! - predicted[i]!) ** 2;
  return Math.sqrt(s / actual.length);
}

/** Options of {@link mase} and {@link seasonalError}. */
export interface MaseOptions {
  /** Seasonal period of the naive forecast that scales the error (default 1: persistence). */
  readonly m?: number;
  /** What a zero in-sample error (a constant series) gives: `'nan'` (default) or `'raise'`. */
  readonly zeroDivision?: 'nan' | 'raise';
}

/**
 * The in-sample error of the seasonal naive forecast, `mean |y_t − y_{t−m}|` over the training series (GluonTS
 * `calculate_seasonal_error`): MASE's denominator. Falls back to `m = 1` when `m ≥ insample.length`, as GluonTS does.
 */
export function seasonalError(insample: ArrayLike<number>, m = 1): number {
  checkSeries(insample, 'insample', 2);
  if (!Number.isInteger(m) || m < 1) throw new FitstreamInputError('options.m', `must be an integer ≥ 1, got ${String(m)}.`);
  const period = m >= insample.length ? 1 : m;
  let s = 0;
  for (let t = period; t < insample.length; t++) s += Math.abs(insample[t]! - insample[t - period]!);
  return s / (insample.length - period);
}

/**
 * Mean absolute scaled error: `MAE(actual, predicted) / seasonalError(insample, m)` (Darts, sktime, GluonTS). The
 * insample is the series known at the forecast's cutoff (the training span). A perfect forecast gives 0; the
 * in-sample one-step persistence forecast gives exactly 1 with `m = 1`. A constant insample (zero denominator)
 * gives `NaN`, or throws with `zeroDivision: 'raise'`.
 *
 * @example
 * ```ts
 * mase(test, forecast, train, { m: 7 }); // < 1: better than last week's values
 * ```
 */
export function mase(actual: ArrayLike<number>, predicted: ArrayLike<number>, insample: ArrayLike<number>, options: MaseOptions = {}): number {
  const scale = seasonalError(insample, options.m ?? 1);
  const error = mae(actual, predicted);
  if (scale === 0) {
    if (options.zeroDivision === 'raise') throw new FitstreamInputError('insample', 'is constant, so the seasonal naive error (MASE’s denominator) is 0; use MAE, or a longer insample.');
    return Number.NaN;
  }
  return error / scale;
}

/** Options of {@link smape}. */
export interface SmapeOptions {
  /** `'fraction'` (default, 0–2 as GluonTS and sktime) or `'percent'` (0–200, as Darts). */
  readonly scale?: 'fraction' | 'percent';
}

/**
 * Symmetric mean absolute percentage error, `mean(2·|y − ŷ| / (|y| + |ŷ|))` — a fraction in [0, 2] by default,
 * percent (×100) on request. A step where both `y` and `ŷ` are 0 contributes 0 (a perfect forecast), as in Darts.
 *
 * @example
 * ```ts
 * smape([100, 0], [110, 0]);                       // 0.0476…
 * smape([100, 0], [110, 0], { scale: 'percent' }); // 4.76…
 * ```
 */
export function smape(actual: ArrayLike<number>, predicted: ArrayLike<number>, options: SmapeOptions = {}): number {
  checkPair(actual, predicted, 'smape');
  const scale = options.scale ?? 'fraction';
  if (scale !== 'fraction' && scale !== 'percent') throw new FitstreamInputError('options.scale', `must be 'fraction' or 'percent', got ${String(scale)}.`);
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const den = Math.abs(actual[i]!) + Math.abs(predicted[i]!);
    if (den > 0) s += (2 * Math.abs(actual[i]! - predicted[i]!)) / den;
  }
  const fraction = s / actual.length;
  return scale === 'percent' ? 100 * fraction : fraction;
}

/**
 * Mean pinball (quantile) loss of a forecast of quantile `q`: `mean(max(q·(y − ŷ), (q − 1)·(y − ŷ)))`. GluonTS's
 * `quantile_loss` is `2·Σ` of the same terms, i.e. `2·n` times this value. With `q = 0.5` it is half the MAE.
 *
 * @example
 * ```ts
 * quantileLoss([10, 20], [12, 15], 0.9); // (0.1·2 + 0.9·5) / 2 = 2.35
 * ```
 */
export function quantileLoss(actual: ArrayLike<number>, predicted: ArrayLike<number>, q: number): number {
  checkPair(actual, predicted, 'quantileLoss');
  if (!(q > 0 && q < 1)) throw new FitstreamInputError('q', `must be in (0, 1), got ${String(q)}.`);
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = actual[i]! - predicted[i]!;
    s += Math.max(q * e, (q - 1) * e);
  }
  return s / actual.length;
}
