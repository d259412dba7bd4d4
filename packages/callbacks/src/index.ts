/**
 * @fitstream/callbacks — training callbacks for the fitstream trainer, each a factory returning a core `Plugin`.
 *
 * @packageDocumentation
 */

// Policies: early stopping, NaN and spike guards, time budget, lambda callbacks, LR finder.
export { earlyStopping, earlyStoppingPolicy, earlyStoppingStep, earlyStoppingConfig } from './internal/policies/early-stopping.js';
export type { EarlyStopping, EarlyStoppingOptions, EarlyStoppingConfig, EarlyStoppingState, EarlyStoppingDecision, MonitoredEpoch } from './internal/policies/early-stopping.js';
export { resolveMode } from './internal/policies/monitor.js';
export type { MonitorMode, MonitorOptions } from './internal/policies/monitor.js';
export type { PolicyEvent, PolicyEventType, LearningRateChangeReason, SpikeAction } from './internal/policies/events.js';
export { terminateOnNaN } from './internal/policies/terminate-on-nan.js';
export type { TerminateOnNaN, TerminateOnNaNOptions } from './internal/policies/terminate-on-nan.js';
export { lossSpikeGuard, spikeDetector, spikeDetectorStep, spikeDetectorConfig } from './internal/policies/spike-guard.js';
export type { LossSpikeGuard, LossSpikeGuardOptions, SpikeDetectorOptions, SpikeDetectorConfig, SpikeDetectorState, SpikeDecision } from './internal/policies/spike-guard.js';
export { timeBudget } from './internal/policies/time-budget.js';
export type { TimeBudget, TimeBudgetOptions } from './internal/policies/time-budget.js';
export { callback } from './internal/policies/lambda.js';
export { lrFinder } from './internal/policies/lr-finder.js';
export type { LrFinderOptions, LrFinderResult } from './internal/policies/lr-finder.js';

// Learning-rate schedules: pure functions of the step or epoch that are also core's LearningRateBase (warmup alone, plateau: modifiers).
export {
  constantLr,
  stepDecay,
  multiStepDecay,
  exponentialDecay,
  polynomialDecay,
  cosineDecay,
  cosineRestarts,
  warmup,
  oneCycle,
} from './internal/schedules/schedules.js';
export type { OneCycleOptions, WarmupOptions, LearningRateWarmup } from './internal/schedules/schedules.js';
export type { LearningRateSchedule, ScheduleOptions, ScheduleInterval } from './internal/schedules/schedule.js';
export type { AnnealStrategy } from './internal/schedules/formulas.js';
export { reduceLROnPlateau, plateauPolicy, plateauStep, plateauConfig } from './internal/schedules/reduce-lr-on-plateau.js';
export type { ReduceLROnPlateau, ReduceLROnPlateauOptions, PlateauConfig, PlateauState, PlateauInput, PlateauDecision } from './internal/schedules/reduce-lr-on-plateau.js';

// ---- I/O and reports (checkpoints, backup/restore, loggers, TensorBoard, progress bar, training report, live dashboard) ----
export { modelCheckpoint } from './internal/io/model-checkpoint.js';
export type { ModelCheckpoint, ModelCheckpointOptions, SavedCheckpoint } from './internal/io/model-checkpoint.js';
export { backupAndRestore } from './internal/io/backup-and-restore.js';
export type { BackupAndRestore, BackupAndRestoreOptions } from './internal/io/backup-and-restore.js';
// The logger interface the file loggers are built on: runs anywhere, a page included.
export { createLogger } from './internal/io/logger.js';
export type { Logger, LoggerSpec, LoggerContext, LoggerRecords, LogRecord } from './internal/io/logger.js';
// Node-only pieces (files, the terminal) come through `#platform/*`: the browser build's versions throw at plugin
// creation, naming what to use there instead, and no node: module is reachable from a browser bundle.
export { jsonlLogger, replay, csvLogger, tensorBoard } from '#platform/loggers';
export { parseEventLog, eventToRecord, EVENT_LOG_FORMAT } from './internal/io/event-log.js';
export type { ReplayOptions } from './internal/io/event-log.js';
export type { JsonlLogger, JsonlLoggerOptions } from './internal/io/jsonl-logger.js';
export type { CsvLogger, CsvLoggerOptions } from './internal/io/csv-logger.js';
export type { TensorBoard, TensorBoardOptions } from './internal/io/tensorboard/tensor-board.js';
export { crc32c, maskedCrc32c } from './internal/io/tensorboard/crc32c.js';
export { formatMetric, formatDuration } from './internal/io/format.js';
export type { IoEventType } from './internal/io/events.js';
export { progressBar } from './internal/report/progress-bar.js';
export type { ProgressBar, ProgressBarOptions, ProgressStream } from './internal/report/progress-bar.js';
export { trainingReport, renderPng } from '#platform/report-files';
export type { TrainingReport, TrainingReportOptions } from './internal/report/training-report.js';
export { renderReportHtml, renderReportSvg, smoothEma } from './internal/report/report-render.js';
export type { ReportSection, ReportHtmlOptions, ReportRenderOptions } from './internal/report/report-render.js';
export { reportDataFromEvents, toReportData } from './internal/report/report-data.js';
export type { ReportData, ReportDataOptions, ReportEpoch } from './internal/report/report-data.js';
export type { StepSeries } from './internal/report/series-buffer.js';
export { liveDashboard } from './internal/report/live-dashboard.js';
export type { LiveDashboard, LiveDashboardOptions, DashboardElement, DashboardConfusionMatrix } from './internal/report/live-dashboard.js';
export type { ConfusionMatrixData, ConfusionCounts } from './internal/report/confusion-matrix.js';

// ---- Fine-tuning: gradual unfreezing and discriminative learning rates ----
export { fineTuning, trainableGroupsAt } from './internal/fine-tuning/fine-tuning.js';
export type { FineTuning, FineTuningOptions } from './internal/fine-tuning/fine-tuning.js';
export { discriminativeLr, groupFactors } from './internal/fine-tuning/discriminative-lr.js';
export type { DiscriminativeLrOptions, GroupFactors } from './internal/fine-tuning/discriminative-lr.js';

// ---- Weight averaging: exponential moving average (EMA) and stochastic weight averaging (SWA) ----
export { ema } from './internal/averaging/ema.js';
export type { Ema, EmaOptions } from './internal/averaging/ema.js';
export { swa } from './internal/averaging/swa.js';
export type { Swa, SwaOptions } from './internal/averaging/swa.js';
export type { AveragingEvent, AveragingEventType } from './internal/averaging/events.js';
