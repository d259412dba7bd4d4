import { FitstreamInputError, type Json } from '@fitstream/core';
import { Observable, lastValueFrom, map, toArray, type OperatorFunction } from 'rxjs';
import { defaultBaselines, type Forecaster } from '../baselines/baselines.js';
import { mae, mase, rmse, smape } from '../metrics/metrics.js';
import type { FittedScaler, Scaler } from '../scalers/scalers.js';
import { checkInteger, checkSeries } from '../util/checks.js';

/** Options of {@link backtest}. */
export interface BacktestOptions {
  /** The whole univariate series, in original units. */
  readonly series: ArrayLike<number>;
  /** The model: an instance (re-fitted in place when retraining) or a factory (a fresh one per retrain; the old one is disposed). */
  readonly forecaster: Forecaster | (() => Forecaster);
  /** Index of the first forecast step: the first history is `series[0, start)`. */
  readonly start: number;
  /** Steps forecast from each origin (default 1). */
  readonly horizon?: number;
  /** Steps between forecast origins (default 1). */
  readonly stride?: number;
  /**
   * `true` (default): retrain at every step; `k`: at steps 0, k, 2k, …; `false`: train once at the first step and roll
   * that model forward (GluonTS rolling evaluation).
   */
  readonly retrain?: boolean | number;
  /** Train on the last `trainLength` known points (a sliding window); default all of them (expanding). */
  readonly trainLength?: number;
  /** Fitted on each training window only (re-fitted at every retrain); the model sees scaled values, metrics use original units. */
  readonly scaler?: Scaler;
  /** Seasonal period for MASE and the seasonal naive baseline (default 1). */
  readonly m?: number;
  /** Baselines forecast at every step next to the model (default persistence, seasonal naive when m > 1, drift, mean; `[]` for none). */
  readonly baselines?: readonly Forecaster[];
}

/** One forecast of a backtest, in original units. */
export interface BacktestStep {
  readonly step: number;
  /** The last known index: the forecast covers `cutoff + 1 … cutoff + horizon`. */
  readonly cutoff: number;
  /** The span the current model was trained on, `[start, end)`, with `end ≤ cutoff + 1`. */
  readonly trainRange: readonly [number, number];
  readonly retrained: boolean;
  readonly forecast: Float64Array;
  readonly actual: Float64Array;
  /** Each baseline's forecast of the same steps, by name. */
  readonly baselines: Readonly<Record<string, Float64Array>>;
  /** The scaler's statistics in use (fitted on `trainRange` only), when there is a scaler. */
  readonly scaler: Json | undefined;
}

/** The number of steps of a backtest: `⌊(n − start − horizon) / stride⌋ + 1` (no forecast runs past the data). */
export function backtestSteps(n: number, start: number, horizon = 1, stride = 1): number {
  const room = n - start - horizon;
  return room < 0 ? 0 : Math.floor(room / stride) + 1;
}

/**
 * Walk-forward backtest as a cold Observable of forecast steps (Darts `historical_forecasts` semantics): from origin
 * `start + k·stride` the model forecasts `horizon` steps from the history before it. Retraining (every step, every k
 * steps, or once) fits the model — and the scaler — on the training window only, so nothing from the future leaks.
 * Subscribe again to run again; unsubscribing stops after the step in flight.
 *
 * @example
 * ```ts
 * const report = await lastValueFrom(backtest({ series, forecaster: seasonalNaive(7), start: 700, horizon: 7, stride: 7, m: 7 })
 *   .pipe(toBacktestReport({ m: 7, series })));
 * ```
 */
export function backtest(options: BacktestOptions): Observable<BacktestStep> {
  const series = Float64Array.from(options.series ?? []);
  checkSeries(series, 'options.series', 2);
  const horizon = options.horizon ?? 1;
  const stride = options.stride ?? 1;
  const retrain = options.retrain ?? true;
  const m = options.m ?? 1;
  checkInteger(horizon, 'options.horizon', 1);
  checkInteger(stride, 'options.stride', 1);
  checkInteger(m, 'options.m', 1);
  checkInteger(options.start, 'options.start', 1);
  if (options.trainLength !== undefined) checkInteger(options.trainLength, 'options.trainLength', 1);
  if (typeof retrain === 'number') checkInteger(retrain, 'options.retrain', 1);
  else if (typeof retrain !== 'boolean') throw new FitstreamInputError('options.retrain', `must be true, false or a step count ≥ 1, got ${String(retrain)}.`);
  const steps = backtestSteps(series.length, options.start, horizon, stride);
  if (steps === 0) throw new FitstreamInputError('options.start', `${options.start} + horizon ${horizon} runs past the ${series.length} steps of the series; no forecast fits.`);
  const baselines = options.baselines ?? defaultBaselines(m);
  const every = retrain === true ? 1 : retrain === false ? Number.POSITIVE_INFINITY : retrain;

  return new Observable<BacktestStep>((subscriber) => {
    let stopped = false;
    let model: Forecaster | undefined;
    const run = async () => {
      let scaler: FittedScaler | undefined;
      let trainRange: readonly [number, number] = [0, 0];
      for (let k = 0; k < steps && !stopped; k++) {
        const origin = options.start + k * stride;
        const retrainNow = k === 0 || k % every === 0;
        if (retrainNow) {
          trainRange = [options.trainLength === undefined ? 0 : Math.max(0, origin - options.trainLength), origin];
          // Everything the model and the scaler see here lies before `origin`.
          const train = series.slice(trainRange[0], trainRange[1]);
          scaler = options.scaler?.fit(train);
          if (typeof options.forecaster === 'function') {
            model?.dispose?.();
            model = options.forecaster();
          } else {
            model = options.forecaster;
          }
          await model.fit?.(scaler ? scaler.transformColumn(train) : train);
        }
        const history = series.slice(0, origin);
        const raw = await model!.predict(scaler ? scaler.transformColumn(history) : history.slice(), horizon);
        if (raw.length !== horizon) throw new Error(`Forecaster "${model!.name}" returned ${raw.length} values for horizon ${horizon}.`);
        const forecast = scaler ? scaler.inverse(raw) : Float64Array.from(raw);
        const base: Record<string, Float64Array> = {};
        for (const b of baselines) base[b.name] = Float64Array.from(await b.predict(history.slice(), horizon));
        if (stopped) return;
        subscriber.next({
          step: k,
          cutoff: origin - 1,
          trainRange,
          retrained: retrainNow,
          forecast,
          actual: series.slice(origin, origin + horizon),
          baselines: base,
          scaler: scaler?.toJSON(),
        });
      }
    };
    run().then(
      () => {
        if (typeof options.forecaster === 'function') model?.dispose?.();
        subscriber.complete();
      },
      (error: unknown) => {
        if (typeof options.forecaster === 'function') model?.dispose?.();
        subscriber.error(error);
      },
    );
    return () => {
      stopped = true;
    };
  });
}

/** Forecast accuracy of one model over a backtest. */
export interface ForecastScores {
  readonly mae: number;
  readonly rmse: number;
  /** sMAPE as a fraction (0–2). */
  readonly smape: number;
  /** Mean over steps of MASE, each scaled by the seasonal naive error of the series up to that step's cutoff. */
  readonly mase: number;
}

/** What {@link toBacktestReport} computes: the model's scores and every baseline's, over the same steps. */
export interface BacktestReport {
  readonly steps: number;
  readonly m: number;
  readonly model: ForecastScores;
  readonly baselines: Readonly<Record<string, ForecastScores>>;
  /** `model.mase / baselines[name].mase` for each baseline (< 1: the model wins). */
  readonly relativeMase: Readonly<Record<string, number>>;
}

function score(steps: readonly BacktestStep[], pick: (s: BacktestStep) => Float64Array, series: Float64Array, m: number): ForecastScores {
  const actual = concat(steps.map((s) => s.actual));
  const pred = concat(steps.map(pick));
  let maseSum = 0;
  for (const s of steps) maseSum += mase(s.actual, pick(s), series.subarray(0, s.cutoff + 1), { m });
  return { mae: mae(actual, pred), rmse: rmse(actual, pred), smape: smape(actual, pred), mase: maseSum / steps.length };
}

function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Scores a finished list of backtest steps; `series` is the backtested series (MASE's insample), `m` its period. */
export function backtestReport(steps: readonly BacktestStep[], options: { readonly series: ArrayLike<number>; readonly m?: number }): BacktestReport {
  if (steps.length === 0) throw new FitstreamInputError('steps', 'is empty; a report needs at least one forecast step.');
  const m = options.m ?? 1;
  const series = Float64Array.from(options.series);
  const model = score(steps, (s) => s.forecast, series, m);
  const baselines: Record<string, ForecastScores> = {};
  const relativeMase: Record<string, number> = {};
  for (const name of Object.keys(steps[0]!.baselines)) {
    baselines[name] = score(steps, (s) => s.baselines[name]!, series, m);
    relativeMase[name] = model.mase / baselines[name].mase;
  }
  return { steps: steps.length, m, model, baselines, relativeMase };
}

/**
 * An RxJS operator that collects a backtest and emits its {@link BacktestReport} when it completes.
 *
 * @example
 * ```ts
 * backtest(opts).pipe(toBacktestReport({ series, m: 7 })).subscribe((r) => console.log(r.model.mase, r.baselines));
 * ```
 */
export function toBacktestReport(options: { readonly series: ArrayLike<number>; readonly m?: number }): OperatorFunction<BacktestStep, BacktestReport> {
  return (source) => source.pipe(toArray(), map((steps) => backtestReport(steps, options)));
}

/** Runs a backtest to the end: every step and the report. */
export async function runBacktest(options: BacktestOptions): Promise<{ readonly steps: readonly BacktestStep[]; readonly report: BacktestReport }> {
  const steps = await lastValueFrom(backtest(options).pipe(toArray()));
  return { steps, report: backtestReport(steps, { series: options.series, m: options.m ?? 1 }) };
}
