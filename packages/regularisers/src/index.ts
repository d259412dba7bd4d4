/**
 * @fitstream/regularisers — weight penalties, decoupled weight decay, gradient clipping and noise, input noise, weight
 * constraints, class weights, focal loss, label smoothing, knowledge distillation, output-bias initialisation and
 * variational dropout, as plugins of the fitstream step pipeline. Every plugin reports what it did on
 * `trainer.events$` (`regulariser:report`, `regulariser:skipped`) without a device sync unless someone reads the
 * values.
 *
 * @packageDocumentation
 */

// Events and reports.
export type {
  RegulariserReport,
  RegulariserKind,
  RegulariserEventType,
  PenaltyReport,
  WeightDecayReport,
  ClipReport,
  ClipMode,
  GradientNoiseReport,
  InputNoiseReport,
  ConstraintReport,
  LossWeightingReport,
  LabelSmoothingReport,
  DropoutReport,
  DistillationReport,
  LossReduction,
  SkippedStep,
} from './internal/report/events.js';
export { isReportRead, readReportAsync } from './internal/report/report-values.js';
export type { ReportValues } from './internal/report/report-values.js';
export type { ReportOptions, ReportSetting } from './internal/report/reporter.js';

// Which weights a regulariser acts on.
export { isBiasLike } from './internal/selection.js';
export type { WeightSelection } from './internal/selection.js';

// Weight penalties and decoupled weight decay.
export { weightPenalty, l1, l2, l1l2, penaltyValue } from './internal/penalties/weight-penalty.js';
export type { WeightPenaltyOptions } from './internal/penalties/weight-penalty.js';
export { decoupledWeightDecay } from './internal/penalties/weight-decay.js';
export type { DecoupledWeightDecayOptions } from './internal/penalties/weight-decay.js';

// Gradient clipping and non-finite gradients.
export {
  clipGradNorm,
  clipGradNormPerVariable,
  clipGradValue,
  skipNonFiniteGradients,
  globalNorm,
  clipByGlobalNorm,
  clipByNormPerVariable,
  clipByValue,
} from './internal/gradients/clipping.js';
export type { ClipOptions, ClipGradNormOptions, NonFinitePolicy, SkipNonFiniteOptions } from './internal/gradients/clipping.js';

// Noise.
export { gaussianNoise, gradientNoise, gradientNoiseStddev } from './internal/noise/noise.js';
export type { GaussianNoiseOptions, GradientNoiseOptions } from './internal/noise/noise.js';

// Weight constraints.
export {
  maxNorm,
  minMaxNorm,
  unitNorm,
  nonNeg,
  maxNormProjection,
  minMaxNormProjection,
  unitNormProjection,
  nonNegProjection,
} from './internal/constraints/constraints.js';
export type { ConstraintOptions } from './internal/constraints/constraints.js';

// Loss shaping.
export { classWeights, sampleWeightReduction, balancedClassWeights, classCounts, classIndices } from './internal/loss/class-weights.js';
export type { ClassWeightMap, ClassWeightsOptions, LabelSource } from './internal/loss/class-weights.js';
export { binaryFocalCrossentropy, categoricalFocalCrossentropy } from './internal/loss/focal.js';
export type { BinaryFocalOptions, CategoricalFocalOptions } from './internal/loss/focal.js';
export { binaryCrossentropy, categoricalCrossentropy, smoothLabels } from './internal/loss/cross-entropy.js';
export type { CrossEntropyOptions, LossFunction } from './internal/loss/cross-entropy.js';
export { labelSmoothing } from './internal/loss/label-smoothing.js';
export type { LabelSmoothingOptions } from './internal/loss/label-smoothing.js';
export { distillation, distillationLoss } from './internal/loss/distillation.js';
export type { DistillationOptions, DistillationLossOptions, DistillationOutputs, Teacher, TeacherFunction } from './internal/loss/distillation.js';

// Initialisation and dropout.
export { initOutputBias } from './internal/init/output-bias.js';
export type { OutputBiasOptions } from './internal/init/output-bias.js';
export { variationalDropout, variationalDropoutMask, variationalInputDropout } from './internal/dropout/variational-dropout.js';
export type { VariationalInputDropoutOptions } from './internal/dropout/variational-dropout.js';
