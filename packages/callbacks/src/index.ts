/**
 * @fitstream/callbacks — training callbacks for the fitstream trainer, each a factory returning a core `Plugin`.
 *
 * @packageDocumentation
 */

// Policies: early stopping, NaN and spike guards, time budget, lambda callbacks, LR finder.
export { earlyStopping, earlyStoppingPolicy, earlyStoppingStep, earlyStoppingConfig } from './internal/policies/early-stopping.js';
export type { EarlyStopping, EarlyStoppingOptions, EarlyStoppingConfig, EarlyStoppingState, EarlyStoppingDecision, MonitoredEpoch } from './internal/policies/early-stopping.js';
export { resolveMode } from './internal/policies/monitor.js';
export type { MonitorMode } from './internal/policies/monitor.js';
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

// Learning-rate schedules: pure functions of the step or epoch that are also plugins owning the learning rate.
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
export type { OneCycleOptions } from './internal/schedules/schedules.js';
export type { LearningRateSchedule, ScheduleOptions, ScheduleInterval } from './internal/schedules/schedule.js';
export type { AnnealStrategy } from './internal/schedules/formulas.js';
export { reduceLROnPlateau, plateauPolicy, plateauStep, plateauConfig } from './internal/schedules/reduce-lr-on-plateau.js';
export type { ReduceLROnPlateau, ReduceLROnPlateauOptions, PlateauConfig, PlateauState, PlateauInput, PlateauDecision } from './internal/schedules/reduce-lr-on-plateau.js';
export { LearningRateScale } from './internal/schedules/learning-rate-scale.js';
