/**
 * @fitstream/time-series — leak-free windowing, walk-forward validation and backtests, scalers fitted on training data
 * only, a stateful RNN runner for the core trainer with continuation into the future, multi-step strategies, baselines
 * and forecast metrics.
 *
 * @packageDocumentation
 */
export { windows, windowCount, temporalSplit } from './internal/windowing/windows.js';
export type { WindowSpec, Windows, TemporalSplits, TemporalSplitOptions } from './internal/windowing/windows.js';
export { windowTensors } from './internal/windowing/window-tensors.js';
export type { WindowTensorOptions, WindowTensors } from './internal/windowing/window-tensors.js';
export type { SeriesData, SeriesColumnOptions } from './internal/windowing/series-data.js';

export { timeSeriesSplit, expandingWindow, slidingWindow } from './internal/validation/splitters.js';
export type { TimeFold, TimeSplitter, TimeSeriesSplitOptions, WalkForwardOptions, ExpandingWindowOptions, SlidingWindowOptions, ForecastHorizon } from './internal/validation/splitters.js';
export { backtest, backtestSteps, backtestReport, toBacktestReport, runBacktest } from './internal/validation/backtest.js';
export type { BacktestOptions, BacktestStep, BacktestReport, ForecastScores } from './internal/validation/backtest.js';

export { standardScaler, minMaxScaler, robustScaler } from './internal/scalers/scalers.js';
export type { Scaler, FittedScaler, MinMaxScalerOptions, RobustScalerOptions } from './internal/scalers/scalers.js';

export { persistence, seasonalNaive, drift, meanForecast, defaultBaselines } from './internal/baselines/baselines.js';
export type { Forecaster, MeanForecastOptions } from './internal/baselines/baselines.js';
export { mae, rmse, mase, seasonalError, smape, quantileLoss } from './internal/metrics/metrics.js';
export type { MaseOptions, SmapeOptions } from './internal/metrics/metrics.js';

export { statefulLayout, statefulData } from './internal/stateful/layout.js';
export type { StatefulLayout, StatefulData, StatefulDataOptions } from './internal/stateful/layout.js';
export { statefulRnn } from './internal/stateful/stateful-rnn.js';
export type { StatefulRnnOptions, StatefulRnnPlugin } from './internal/stateful/stateful-rnn.js';
export { snapshotState, restoreState, resetState, disposeState, statefulLayers } from './internal/stateful/state.js';
export type { StateSnapshot } from './internal/stateful/state.js';
export { statefulForecaster, inferenceCopy } from './internal/stateful/stateful-forecaster.js';
export type { StatefulForecaster, StatefulForecasterOptions } from './internal/stateful/stateful-forecaster.js';

export { multiStepForecast, modelPredictor } from './internal/strategies/multi-step.js';
export type { MultiStepStrategy, MultiStepOptions, WindowPredictor } from './internal/strategies/multi-step.js';

export { lstmForecaster } from './internal/recipes/lstm-forecaster.js';
export type { LstmForecasterOptions } from './internal/recipes/lstm-forecaster.js';
export { forecastBirths } from './internal/recipes/forecast-births.js';
export type { ForecastBirthsOptions, ForecastBirthsResult } from './internal/recipes/forecast-births.js';
export { detectAnomalies, anomalyScores } from './internal/recipes/detect-anomalies.js';
export type { DetectAnomaliesOptions, AnomalyResult } from './internal/recipes/detect-anomalies.js';
