import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTemporaries, type Plugin } from '@fitstream/core';
import {
  backupAndRestore,
  constantLr,
  cosineDecay,
  cosineRestarts,
  csvLogger,
  earlyStopping,
  exponentialDecay,
  jsonlLogger,
  lossSpikeGuard,
  modelCheckpoint,
  multiStepDecay,
  oneCycle,
  polynomialDecay,
  progressBar,
  reduceLROnPlateau,
  stepDecay,
  tensorBoard,
  terminateOnNaN,
  timeBudget,
  trainingReport,
  warmup,
  type LearningRateSchedule,
  type ProgressStream,
} from '@fitstream/callbacks';
import type { LrScheduleConfig, RunConfig } from '../config/schema.js';

/** Where each file of a run directory lives. */
export function runPaths(runDir: string) {
  return {
    config: join(runDir, 'config.json'),
    environment: join(runDir, 'environment.json'),
    data: join(runDir, 'data.json'),
    events: join(runDir, 'events.jsonl'),
    metrics: join(runDir, 'metrics.csv'),
    checkpoints: join(runDir, 'checkpoints'),
    backup: join(runDir, 'backup'),
    model: join(runDir, 'model'),
    tensorboard: join(runDir, 'tensorboard'),
    report: join(runDir, 'report.html'),
    evaluation: join(runDir, 'evaluation.json'),
    backtest: join(runDir, 'backtest.json'),
    detection: join(runDir, 'detection.json'),
  };
}

/**
 * The checkpoint `fitstream resume` continues from: what the run's backupAndRestore plugin finds (its backup, or the
 * previous one moved aside when a kill came between the two renames of a replacement), `undefined` when there is none.
 */
export function findBackup(runDir: string): Promise<string | undefined> {
  return backupAndRestore({ dir: runPaths(runDir).backup }).find();
}

/**
 * Stop reasons that leave a run to resume (backupAndRestore's default): a signal, an abort, the time budget, a pause
 * asked for with `fitstream resume --pause-after` ({@link pauseAfterEpochs}). Any other stop (early stopping,
 * terminateOnNaN) finishes the run.
 */
export function isInterruption(stopReason: string | undefined): boolean {
  return stopReason !== undefined && /^(SIGINT|SIGTERM|aborted|timeBudget|time budget|paused)/.test(stopReason);
}

/**
 * Stops the fit once `epochs` epochs are done (at that epoch's end, or at once when it resumes past it), as an
 * interruption: backupAndRestore writes its checkpoint and `fitstream resume` continues from it. A sweep's Hyperband
 * trial runs to its rung with it: a SIGINT sent when the rung's epoch shows up in events.jsonl came too late for a
 * trial that trains an epoch in milliseconds (it had already run on).
 */
export function pauseAfterEpochs(epochs: number): Plugin {
  const reason = `paused after ${epochs} epochs (--pause-after)`;
  return {
    name: 'pauseAfterEpochs',
    attach: (events$, control) =>
      events$.subscribe((e) => {
        if ((e.type === 'fit:start' && e.initialEpoch >= epochs) || (e.type === 'epoch:end' && e.epoch + 1 >= epochs)) control.stop(reason);
      }),
  };
}

/**
 * Deletes a finished run's backup (what `backupAndRestore` wrote to `<run>/backup`), once its model, evaluation and
 * report are written. `latest.json` goes first: from then on the backup is invisible to `findCheckpoint`, so a kill
 * during the deletion leaves a finished run, never a half-deleted checkpoint to resume from.
 */
export async function deleteBackup(runDir: string): Promise<void> {
  const dir = runPaths(runDir).backup;
  await rm(join(dir, 'latest.json'), { force: true });
  await rm(join(dir, 'backup'), { recursive: true, force: true });
  await removeStaleTemporaries(dir);
}

/** Drops `undefined` values: the callbacks' options are exact optional properties. */
export function defined<T>(options: Record<string, unknown>): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T;
}

function schedule(config: LrScheduleConfig): LearningRateSchedule | undefined {
  if (config.type === 'none') return undefined;
  if (config.type === 'oneCycle') {
    const { type: _t, ...rest } = config;
    return oneCycle(defined(rest));
  }
  const { type, warmup: warm, ...rest } = config;
  const options = defined<never>(rest);
  const inner: LearningRateSchedule =
    type === 'constantLr'
      ? constantLr(options)
      : type === 'stepDecay'
        ? stepDecay(options)
        : type === 'multiStepDecay'
          ? multiStepDecay(options)
          : type === 'exponentialDecay'
            ? exponentialDecay(options)
            : type === 'polynomialDecay'
              ? polynomialDecay(options)
              : type === 'cosineDecay'
                ? cosineDecay(options)
                : cosineRestarts(options);
  return warm ? warmup(defined(warm), inner) : inner;
}

/**
 * The callbacks of a run, from its configuration, writing into the run directory: events.jsonl, metrics.csv,
 * checkpoints/, backup/, tensorboard/, report.html. The progress bar writes to `progress` (stdout, or stderr with --json).
 * `observe` wraps the plugins that write or print (a distributed run's replicas: rank 0 only); those that steer
 * training (terminateOnNaN, schedules, early stopping) stay on every replica.
 */
export function callbackPlugins(config: RunConfig, runDir: string, progress: ProgressStream, log: (line: string) => void, observe: (plugin: Plugin) => Plugin = (p) => p): Plugin[] {
  const c = config.callbacks;
  const paths = runPaths(runDir);
  const plugins: Plugin[] = [];
  // The event log comes first: the report, `fitstream report` and `resume` read it.
  plugins.push(observe(jsonlLogger(defined({ path: paths.events, readBatchMetricsEvery: c.jsonlLogger.readBatchMetricsEvery || undefined, flushAtChars: c.jsonlLogger.flushAtChars }))));
  if (c.terminateOnNaN.enabled) plugins.push(terminateOnNaN({ every: c.terminateOnNaN.every, skipUpdate: c.terminateOnNaN.skipUpdate }));
  if (c.lossSpikeGuard.enabled) {
    const { enabled: _e, ...rest } = c.lossSpikeGuard;
    plugins.push(lossSpikeGuard(defined(rest)));
  }
  const lr = schedule(c.lrSchedule);
  if (lr) plugins.push(lr);
  if (c.reduceLROnPlateau.enabled) {
    const { enabled: _e, ...rest } = c.reduceLROnPlateau;
    plugins.push(reduceLROnPlateau(defined(rest)));
  }
  if (c.earlyStopping.enabled) {
    const { enabled: _e, ...rest } = c.earlyStopping;
    plugins.push(earlyStopping(defined({ ...rest, log })));
  }
  if (c.timeBudget.enabled) {
    const { enabled: _e, ...rest } = c.timeBudget;
    plugins.push(timeBudget(defined(rest)));
  }
  if (c.modelCheckpoint.enabled) {
    const { enabled: _e, ...rest } = c.modelCheckpoint;
    plugins.push(observe(modelCheckpoint(defined({ ...rest, dir: paths.checkpoints }))));
  }
  if (c.backupAndRestore.enabled) {
    // `deleteOnFinish` is the caller's (see `deleteBackup`): the backup must outlive the fit until the model is
    // exported, so that a kill between the fit's end and the export still leaves something to resume from.
    const { enabled: _e, deleteOnFinish: _d, ...rest } = c.backupAndRestore;
    plugins.push(observe(backupAndRestore(defined({ ...rest, deleteOnFinish: false, isInterruption, dir: paths.backup }))));
  }
  if (c.csvLogger.enabled) plugins.push(observe(csvLogger({ path: paths.metrics, separator: c.csvLogger.separator })));
  if (c.tensorBoard.enabled) {
    const { enabled: _e, ...rest } = c.tensorBoard;
    plugins.push(observe(tensorBoard(defined({ ...rest, logDir: paths.tensorboard }))));
  }
  if (c.trainingReport.enabled) {
    const { enabled: _e, ...rest } = c.trainingReport;
    plugins.push(observe(trainingReport(defined({ ...rest, title: rest.title ?? `fitstream ${config.recipe}`, dir: runDir }))));
  }
  if (c.progressBar.enabled) {
    const { enabled: _e, ...rest } = c.progressBar;
    plugins.push(observe(progressBar(defined({ ...rest, stream: progress }))));
  }
  return plugins;
}
