/**
 * @fitstream/core — a trainer that owns the TensorFlow.js training loop and publishes a typed RxJS event stream,
 * with DI plugin points, a seeded splittable PRNG, atomic checkpoints and visible backend selection.
 *
 * @packageDocumentation
 */
export { createTrainer, Trainer } from './internal/training/trainer.js';
export type { TrainerOptions, FitOptions, FitResult, EvaluationLogs } from './internal/training/trainer.js';
export type { FitArgs, TfjsFitArgs, FitInputs, ModelFitArgs, TfjsCallback, TfjsLogs, ValidationTuple } from './internal/training/trainer.js';
export type { TrainStep, TrainStepContext, EvaluateStepContext, StepValues } from './internal/training/train-step.js';
export type { OptimizersOption } from './internal/training/trainer-parts.js';
export type { TrainerControl } from './internal/plugin/trainer-control.js';
export type { FunctionModel, TrainableModel } from './internal/model/model.js';
export { leafLayers, isFrozen } from './internal/model/leaf-layers.js';
export type { LeafLayer } from './internal/model/leaf-layers.js';
export { installFrozenBatchNormInference } from './internal/model/frozen-batch-norm.js';
export type { DataSource, TensorData, BatchStream, StreamBatch } from './internal/training/data.js';
// Losses, metrics and optimizers live in @fitstream/losses and @fitstream/optimizers (tfjs only, no trainer);
// re-exported so that code importing them from the core keeps working.
export { resolveLoss, LOSS_NAMES, METRIC_NAMES, defineMetric } from '@fitstream/losses';
export type { LossName, LossSpec, LossFunction, PerSampleLoss, ResolvedLoss, TargetKind } from '@fitstream/losses';
export type { BuiltinMetricName, CustomMetric, MetricSpec, MetricNameOf, PerSampleMetric } from '@fitstream/losses';
export { OPTIMIZER_NAMES, getLearningRate, setLearningRate, applyOptimizerUpdate, usesFusedUpdate, alignOptimizerSlots } from '@fitstream/optimizers';
export type { OptimizerName, OptimizerSpec, LearningRateScale } from '@fitstream/optimizers';
export type { Targets, SampleWeights } from './internal/model/targets.js';
export type { LossOption, MetricsOption, LossWeights, LogNamesOf } from './internal/training/heads.js';

export { ofType, CORE_EVENT_TYPES, serializeError } from './internal/events/event-map.js';
export type {
  TrainerEvent,
  TrainerEventMap,
  TrainerEventType,
  CoreEventMap,
  CoreEventType,
  PluginEventType,
  EventOf,
  History,
  FitEndReason,
  BackendFallback,
  LoopPosition,
  SerializedError,
} from './internal/events/event-map.js';
export { readMetricsAsync, isMetricsRead, createLazyValues, hostLazyValues } from './internal/events/lazy-metrics.js';
export type { LazyMetrics, LazyValues } from './internal/events/lazy-metrics.js';
export type { EpochLogs, ValidationLogs, TrainName, ValidationName, LogName } from './internal/events/metric-names.js';

export type { Plugin, Claim } from './internal/plugin/plugin.js';
export { PluginConflictError } from './internal/plugin/conflicts.js';
export {
  BatchTransform,
  LossTransform,
  GradientTransform,
  WeightConstraint,
  StateProvider,
  IndexSampler,
  ResumeSource,
  LearningRateMultiplier,
  WeightView,
  EpochMetricsReducer,
} from './internal/plugin/plugin-points.js';
export { LearningRateBase, LearningRateModifier } from './internal/learning-rate/learning-rate-points.js';
export type { LearningRatePosition, LearningRateStage, LearningRateModifierInput } from './internal/learning-rate/learning-rate-points.js';
export type { LearningRateValue, LearningRateRecord } from './internal/learning-rate/learning-rate-pipeline.js';
export type { Batch, StepContext, LossContext, GradientContext, Gradients, GradientStage, SamplerContext, EpochMetricsContext } from './internal/plugin/plugin-points.js';

export { token, resolve, resolveAll, provide, pluginRegistry } from './internal/di/token.js';
export type { Token, PluginRegistry } from './internal/di/token.js';
export { PLUGIN_POINTS } from './internal/plugin/plugin-point-registry.js';
export type { Cardinality } from './internal/plugin/plugin-point-registry.js';
export { injectableWith } from './internal/di/injectable-with.js';
export { createChildContainer } from './internal/di/container.js';
export type { DependencyContainer } from './internal/di/container.js';

// The seeded PRNG, the input error and atomic writes live in @fitstream/util (no tfjs, rxjs or tsyringe); re-exported
// so that code importing them from the core keeps working.
export { Random, withSeed, FitstreamInputError, didYouMean, writeFileAtomic, writeDirectoryAtomic, removeStaleTemporaries } from '@fitstream/util';
export type { RandomState } from '@fitstream/util';

// Backend selection lives in @fitstream/backends (usable without the trainer); re-exported so that code importing it
// from the core keeps working. fitstream's wasm training kernels are @fitstream/backend-wasm, an optional peer that
// selectBackend loads dynamically; WasmKernelGroups & co. are the types of that seam (docs/migration/0.2-backend-wasm.md).
export { selectBackend, assertWasmThreads, backendReport } from '@fitstream/backends';
export type {
  BackendName,
  BackendPreference,
  BackendSelection,
  SelectBackendOptions,
  WasmPaths,
  BackendReport,
  BackendCandidateReport,
  BackendReportOptions,
  Platform,
  WebGpuAdapterInfo,
  WasmKernelGroups,
  InstalledWasmKernels,
  MissingWasmKernels,
  WasmKernelsModule,
} from '@fitstream/backends';

// The checkpoint format, its stores, reading and export/import live in @fitstream/checkpoint (no trainer, rxjs or
// tsyringe); re-exported so that code importing them from the core keeps working.
export {
  fileSystem,
  checkpointStore,
  registerCheckpointStore,
  joinLocation,
  readCheckpoint,
  findCheckpoint,
  exportCheckpoint,
  importCheckpoint,
  downloadCheckpoint,
  checkpointModel,
  CheckpointCorruptError,
  writeCheckpoint,
  markLatest,
} from '@fitstream/checkpoint';
export type {
  CheckpointStore,
  CheckpointFiles,
  StoredCheckpoint,
  CheckpointFileInput,
  CheckpointInfo,
  CheckpointState,
  LoadedCheckpoint,
  FindCheckpointOptions,
  SkippedCheckpoint,
  WriteCheckpointOptions,
  Json,
} from '@fitstream/checkpoint';
