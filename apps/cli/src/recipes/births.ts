import { Random } from '@fitstream/core';
import { jsonlLogger, progressBar, terminateOnNaN } from '@fitstream/callbacks';
import { loadUsBirths } from '@fitstream/datasets';
import { forecastBirths, lstmForecaster, type Forecaster } from '@fitstream/time-series';
import { z } from 'zod';
import { EXIT } from '../exit.js';
import { defined } from '../run/plugins.js';
import { experimentBase, experimentCallbackDefaults, experimentCallbacks, interruptedOrThrow, startExperiment, throwIfInterrupted, type ExperimentRun } from '../run/experiment.js';
import { devBatches } from '../run/fit-options.js';
import { formatNumber } from '../run/format.js';
import { writeRunReport } from '../run/report.js';
import { writeJson } from '../run/run-directory.js';
import type { BacktestRecord, BacktestStepRecord } from '../run/sections.js';
import type { ExperimentRecipe, Io } from './recipe.js';

const schema = z.strictObject({
  ...experimentBase('births'),
  data: z.strictObject({ years: z.number().positive().max(20), cache: z.boolean() }),
  model: z.strictObject({ inputLength: z.int().min(1), units: z.int().min(1) }),
  backtest: z.strictObject({
    /** Retrains: the model is refitted `folds` times, each followed by `stepsPerFold` forecasts. */
    folds: z.int().min(1),
    stepsPerFold: z.int().min(1),
    /** Days per forecast (the model's multi-output head). */
    horizon: z.int().min(1),
    /** Training window in days (sliding). */
    trainLength: z.int().min(1),
    /** Seasonal period of MASE and of the seasonal naive baseline. */
    m: z.int().min(1),
  }),
  callbacks: experimentCallbacks,
});

export type BirthsConfig = z.infer<typeof schema>;

/** `--fast-dev-run`: one fold of one forecast, one epoch of one (or n) batches per fit. */
function effective(config: BirthsConfig): { folds: number; stepsPerFold: number; epochs: number; limitBatches: number | undefined } {
  const dev = devBatches(config);
  return dev === undefined
    ? { folds: config.backtest.folds, stepsPerFold: config.backtest.stepsPerFold, epochs: config.epochs, limitBatches: undefined }
    : { folds: 1, stepsPerFold: 1, epochs: 1, limitBatches: dev };
}

/**
 * @fitstream/time-series' `lstmForecaster` (LSTM → dense head emitting `horizon` days at once, on standardised
 * values), trained with the run's optimizer, learning rate, epochs and batch size, and logging every fit into the run's
 * events.jsonl (one `fit:start` per fold) with a progress bar.
 */
function loggedLstm(config: BirthsConfig, run: ExperimentRun, fold: number, folds: number, limitBatches: number | undefined, epochs: number): Forecaster {
  const c = config.callbacks;
  let started = false;
  return lstmForecaster({
    inputLength: config.model.inputLength,
    horizon: config.backtest.horizon,
    units: config.model.units,
    epochs,
    batchSize: config.batchSize,
    seed: config.seed,
    initSeed: Random.fromSeed(config.seed).derive('model-init', fold),
    optimizer: { name: config.optimizer, learningRate: config.lr },
    fitOptions: defined({ handleSignals: true, limitBatches }),
    configure: (trainer) => {
      trainer.use(jsonlLogger(defined({ path: run.paths.events, append: fold > 0 || started, readBatchMetricsEvery: c.jsonlLogger.readBatchMetricsEvery || undefined, flushAtChars: c.jsonlLogger.flushAtChars })));
      trainer.use(terminateOnNaN());
      if (c.progressBar.enabled) trainer.use(progressBar({ mode: c.progressBar.mode, refreshMs: c.progressBar.refreshMs, stream: run.progress }));
      run.log(`fold ${fold + 1}/${folds}: training`);
      started = true;
    },
    onFit: (result, { windows, durationMs }) => {
      throwIfInterrupted(result);
      run.log(`fold ${fold + 1}/${folds}: ${result.history.epochs.length} epochs on ${windows} windows, loss ${formatNumber(result.final?.['loss'] ?? Number.NaN)} (standardised), ${(durationMs / 1000).toFixed(1)} s`);
    },
  });
}

async function run(config: BirthsConfig, io: Io, options: { readonly json: boolean }) {
  const exp = await startExperiment(config, io, options.json);
  const { folds, stepsPerFold, epochs, limitBatches } = effective(config);
  const { horizon, trainLength, m } = config.backtest;
  const dataset = await loadUsBirths({ cache: config.data.cache });
  // forecastBirths keeps the same last days and checks the same history; checked here first to name the config keys.
  const days = Math.min(dataset.births.length, Math.round(config.data.years * 365.25));
  const offset = dataset.births.length - days;
  const start = days - folds * stepsPerFold * horizon;
  if (start < config.model.inputLength + horizon + m) {
    throw new Error(`births: ${folds} folds × ${stepsPerFold} forecasts × ${horizon} days leave too little history in ${days} days (data.years ${config.data.years}); lower backtest.folds or backtest.stepsPerFold, or raise data.years.`);
  }
  const dateOf = (i: number) => dataset.dates[offset + i] ?? String(offset + i);
  await writeJson(exp.paths.data, {
    dataset: { ...dataset.metadata, cache: dataset.cache },
    series: { days: days, from: dateOf(0), to: dateOf(days - 1), years: config.data.years },
    split: { kind: 'walk-forward backtest', folds, stepsPerFold, horizon, trainLength, test: { start, end: days, from: dateOf(start), to: dateOf(days - 1) } },
    preprocessing: { standardise: 'refitted on each training window only (time-series standardScaler)' },
  });
  exp.log(`births: ${days} days (${dateOf(0)} – ${dateOf(days - 1)}); backtest of ${folds * stepsPerFold} forecasts × ${horizon} days from ${dateOf(start)}, retraining every ${stepsPerFold}`);

  const started = performance.now();
  let outcome;
  try {
    outcome = await forecastBirths({
      series: dataset.births,
      years: config.data.years,
      inputLength: config.model.inputLength,
      horizon,
      folds,
      stepsPerFold,
      trainLength,
      m,
      forecaster: (fold) => loggedLstm(config, exp, fold, folds, limitBatches, epochs),
      backend: 'current',
    });
  } catch (error) {
    return interruptedOrThrow(error, exp.runDir, io);
  }
  const { steps, report } = outcome;
  const records: BacktestStepRecord[] = steps.map((s) => ({
    step: s.step,
    fold: Math.floor(s.step / stepsPerFold),
    cutoff: s.cutoff,
    trainRange: s.trainRange,
    dates: Array.from({ length: horizon }, (_, i) => dateOf(s.cutoff + 1 + i)),
    actual: Array.from(s.actual),
    forecast: Array.from(s.forecast),
    baselines: Object.fromEntries(Object.entries(s.baselines).map(([k, v]) => [k, Array.from(v)])),
  }));
  const record: BacktestRecord & Record<string, unknown> = { m, horizon, folds, stepsPerFold, trainLength, seriesDays: days, durationMs: performance.now() - started, report, steps: records };
  await writeJson(exp.paths.backtest, record);
  await writeRunReport(exp.runDir);

  const naiveName = `seasonal-naive(${m})`;
  const naive = report.baselines[naiveName]!;
  const summary = {
    runDir: exp.runDir,
    backend: exp.selection.backend,
    reason: 'completed',
    final: {
      mase: report.model.mase,
      smape: report.model.smape,
      mae: report.model.mae,
      rmse: report.model.rmse,
      seasonal_naive_mase: naive.mase,
      seasonal_naive_smape: naive.smape,
      seasonal_naive_mae: naive.mae,
      relative_mase: report.relativeMase[naiveName]!,
    },
    backtest: { steps: report.steps, folds, stepsPerFold, horizon, m, epochsPerFold: epochs, model: report.model, baselines: report.baselines, relativeMase: report.relativeMase },
  };
  exp.log(
    `done: LSTM MASE ${formatNumber(report.model.mase)} vs ${naiveName} ${formatNumber(naive.mase)} (ratio ${formatNumber(report.relativeMase[naiveName]!)}); ` +
      `sMAPE ${(100 * report.model.smape).toFixed(2)}% vs ${(100 * naive.smape).toFixed(2)}%; MAE ${formatNumber(report.model.mae)} vs ${formatNumber(naive.mae)} births/day`,
  );
  exp.log(`run directory: ${exp.runDir}`);
  exp.log(`report: ${exp.paths.report}; backtest: ${exp.paths.backtest}`);
  return { code: EXIT.ok, summary };
}

/**
 * `fitstream train births`: @fitstream/time-series' `forecastBirths` — an LSTM forecaster of US daily births in a
 * walk-forward backtest against seasonal naive (m = 7), persistence, drift and the mean — with a logged LSTM per fold.
 * Writes config.json, environment.json, data.json, events.jsonl (every fold's fit), backtest.json and report.html.
 */
export const births: ExperimentRecipe<BirthsConfig> = {
  kind: 'experiment',
  name: 'births',
  summary: 'US daily births: LSTM forecaster, walk-forward backtest vs seasonal naive (m = 7)',
  schema,
  defaults: (): BirthsConfig => ({
    recipe: 'births',
    seed: 42,
    backend: 'auto',
    epochs: 5,
    batchSize: 32,
    lr: 0.01,
    optimizer: 'adam',
    fastDevRun: false,
    out: 'runs',
    data: { years: 4, cache: true },
    model: { inputLength: 28, units: 16 },
    backtest: { folds: 3, stepsPerFold: 4, horizon: 7, trainLength: 3 * 365, m: 7 },
    callbacks: experimentCallbackDefaults(),
  }),
  run,
};
