import type * as Datasets from '@fitstream/datasets';
import { FitstreamInputError, selectBackend, type BackendPreference } from '@fitstream/core';
import { seasonalNaive, persistence, drift, meanForecast, type Forecaster } from '../baselines/baselines.js';
import { standardScaler } from '../scalers/scalers.js';
import { checkInteger } from '../util/checks.js';
import { runBacktest, type BacktestReport, type BacktestStep } from '../validation/backtest.js';
import { lstmForecaster, type LstmForecasterOptions } from './lstm-forecaster.js';

/** Options of {@link forecastBirths}. */
export interface ForecastBirthsOptions extends Omit<LstmForecasterOptions, 'backend' | 'horizon'> {
  /** Daily births; default `loadUsBirths()` from `@fitstream/datasets` (installed separately). */
  readonly series?: ArrayLike<number>;
  /** Keep only the last `years` years of the series (default 4; 365.25 days a year, a fraction allowed). */
  readonly years?: number;
  /** Days per forecast (default 7). */
  readonly horizon?: number;
  /** Retrains in the backtest (walk-forward folds, default 3). */
  readonly folds?: number;
  /** Forecasts per fold: the model retrains every `stepsPerFold` forecasts (default 4: every 4 weeks). */
  readonly stepsPerFold?: number;
  /** Training window in days (default 3 years; a sliding window). */
  readonly trainLength?: number;
  /** Seasonal period of MASE and of the seasonal naive baseline (default 7: a week). */
  readonly m?: number;
  /**
   * The model of each fold, built anew at every retrain (`fold` counts from 0); default an {@link lstmForecaster} of
   * these options. For per-fold initial weights or logging, e.g. `(fold) => lstmForecaster({ …, initSeed: random.derive('model-init', fold) })`.
   */
  readonly forecaster?: (fold: number) => Forecaster;
  /** Backend (default `'wasm'`, through `selectBackend`); `'current'` keeps the running one. */
  readonly backend?: BackendPreference | 'current';
  /** Called after every forecast step. */
  readonly onStep?: (step: BacktestStep) => void;
}

/** What {@link forecastBirths} returns. */
export interface ForecastBirthsResult {
  readonly report: BacktestReport;
  readonly steps: readonly BacktestStep[];
  /** The backtested span of the series, `[start, end)` in the (trimmed) series, and its length. */
  readonly testRange: readonly [number, number];
  readonly seriesLength: number;
}

/**
 * A recipe: an LSTM forecaster of US daily births (1969–1988) in a walk-forward backtest against seasonal naive
 * (m = 7), persistence, drift and mean Standardisation is refitted on each training window only; every `stepsPerFold`
 * forecasts the model retrains on the last `trainLength` days. Compare `report.model.mase` with
 * `report.baselines['seasonal-naive(7)'].mase`.
 *
 * @example
 * ```ts
 * const { report } = await forecastBirths({ folds: 3, epochs: 8 });
 * console.log(report.model.mase, report.baselines['seasonal-naive(7)']!.mase);
 * ```
 */
export async function forecastBirths(options: ForecastBirthsOptions = {}): Promise<ForecastBirthsResult> {
  const years = options.years ?? 4;
  const horizon = options.horizon ?? 7;
  const folds = options.folds ?? 3;
  const stepsPerFold = options.stepsPerFold ?? 4;
  const trainLength = options.trainLength ?? 3 * 365;
  const m = options.m ?? 7;
  if (typeof years !== 'number' || !Number.isFinite(years) || years <= 0) throw new FitstreamInputError('options.years', `must be a positive number, got ${String(years)}.`);
  checkInteger(horizon, 'options.horizon', 1);
  checkInteger(folds, 'options.folds', 1);
  checkInteger(stepsPerFold, 'options.stepsPerFold', 1);
  checkInteger(trainLength, 'options.trainLength', 1);
  checkInteger(m, 'options.m', 1);
  let full: ArrayLike<number>;
  if (options.series) full = options.series;
  else {
    let datasets: typeof Datasets;
    try {
      datasets = await import('@fitstream/datasets');
    } catch {
      throw new FitstreamInputError('options.series', 'pass the daily series, or install @fitstream/datasets so that forecastBirths can load it.');
    }
    full = (await datasets.loadUsBirths()).births;
  }
  const series = Float64Array.from(full).subarray(Math.max(0, full.length - Math.round(years * 365.25)));
  const testLength = folds * stepsPerFold * horizon;
  const start = series.length - testLength;
  if (start < (options.inputLength ?? 28) + horizon + m) throw new FitstreamInputError('options', `${folds} folds × ${stepsPerFold} steps × ${horizon} days leave too little history in ${series.length} days.`);
  const backend = options.backend ?? 'wasm';
  if (backend !== 'current') await selectBackend({ prefer: backend, log: null });
  const forecaster = options.forecaster ?? (() => lstmForecaster({ ...options, horizon, backend: 'current' }));
  let fold = 0;
  const { steps, report } = await runBacktest({
    series,
    forecaster: () => forecaster(fold++),
    start,
    horizon,
    stride: horizon,
    retrain: stepsPerFold,
    trainLength,
    scaler: standardScaler(),
    m,
    baselines: [seasonalNaive(m), persistence(), drift(), meanForecast()],
  });
  if (options.onStep) for (const s of steps) options.onStep(s);
  return { report, steps, testRange: [start, series.length], seriesLength: series.length };
}
