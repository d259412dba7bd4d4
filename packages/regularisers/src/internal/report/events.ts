import type { ReportValues } from './report-values.js';

/** What a regulariser did, by kind (the `kind` field of a `regulariser:report` event). */
export type RegulariserKind =
  | 'penalty'
  | 'weight-decay'
  | 'clip'
  | 'gradient-noise'
  | 'input-noise'
  | 'constraint'
  | 'loss-weighting'
  | 'label-smoothing'
  | 'dropout'
  | 'distillation';

interface ReportBase {
  /** The plugin's name (unique per trainer). */
  readonly name: string;
  readonly epoch: number;
  /** Optimizer steps completed (the `step` of the `step:end` this report follows). */
  readonly step: number;
  /** Optimizer steps this report covers (since the plugin's previous report). */
  readonly steps: number;
}

// One interface per report kind, alike in shape by design: the union below discriminates on `kind`, each documents its values.
// One interface per member of the RegulariserReport union, alike by design: each names its kind's own values.
/** Weight penalty: the value added to the loss (`l1·Σ|w| + l2·Σw²`) for the last batch, and the mean over the report. */
export interface PenaltyReport extends ReportBase {
  readonly kind: 'penalty';
  readonly l1: number;
  readonly l2: number;
  readonly values: ReportValues<'penalty' | 'meanPenalty'>;
}

/** Decoupled weight decay: every selected weight was multiplied by `1 − factor` with `factor = learningRate · rate`. */
export interface WeightDecayReport extends ReportBase {
  readonly kind: 'weight-decay';
  readonly values: ReportValues<'rate' | 'learningRate' | 'factor'>;
}

/** How gradients were clipped. */
export type ClipMode = 'global-norm' | 'per-variable-norm' | 'value';

/**
 * Gradient clipping, whatever the mode: `norm` is the pre-clip global norm of the last step (PyTorch's return value),
 * `ratio` the post-clip global norm over the pre-clip one (1 = untouched), `maxNorm` the largest pre-clip norm and
 * `clippedSteps` the steps that were clipped since the previous report.
 */
export interface ClipReport extends ReportBase {
  readonly kind: 'clip';
  readonly mode: ClipMode;
  /** The threshold: max norm, or max absolute value for `'value'`. */
  readonly threshold: number;
  readonly values: ReportValues<'norm' | 'ratio' | 'maxNorm' | 'clippedSteps'>;
}

/** Annealed gradient noise: the standard deviation used at the last step, `sqrt(η / (1 + t)^γ)`. */
export interface GradientNoiseReport extends ReportBase {
  readonly kind: 'gradient-noise';
  readonly values: ReportValues<'stddev'>;
}

/** Gaussian input noise: its standard deviation. */
export interface InputNoiseReport extends ReportBase {
  readonly kind: 'input-noise';
  readonly values: ReportValues<'stddev'>;
}

/** A weight constraint: slices (columns for `axis: 0`) or elements changed by the projection at the last step. */
export interface ConstraintReport extends ReportBase {
  readonly kind: 'constraint';
  readonly constraint: 'max-norm' | 'min-max-norm' | 'unit-norm' | 'non-neg';
  readonly values: ReportValues<'projected'>;
}

// Members of the RegulariserReport union, alike by design (see PenaltyReport above).
/** Class weights / weighted reduction: mean effective weight (class × sample) of the last batch, and its normaliser. */
export interface LossWeightingReport extends ReportBase {
  readonly kind: 'loss-weighting';
  readonly reduction: LossReduction;
  readonly values: ReportValues<'meanWeight'>;
}

/** Label smoothing: its ε. */
export interface LabelSmoothingReport extends ReportBase {
  readonly kind: 'label-smoothing';
  readonly values: ReportValues<'epsilon'>;
}

/** Variational dropout on inputs: its rate. */
export interface DropoutReport extends ReportBase {
  readonly kind: 'dropout';
  readonly values: ReportValues<'rate'>;
}

/**
 * Knowledge distillation, means over the training batches since the previous report: `hardLoss` is the per-sample loss
 * the plugin received (the trainer's loss), `distillationLoss` the `T²·KL(teacher ‖ student)` term (NaN at α = 1, when
 * the teacher is not run). The batch loss is `α·hardLoss + (1 − α)·distillationLoss`.
 */
export interface DistillationReport extends ReportBase {
  readonly kind: 'distillation';
  readonly alpha: number;
  readonly temperature: number;
  readonly values: ReportValues<'hardLoss' | 'distillationLoss'>;
}

/** Every report, discriminated on `kind`. */
export type RegulariserReport =
  | PenaltyReport
  | WeightDecayReport
  | ClipReport
  | GradientNoiseReport
  | InputNoiseReport
  | ConstraintReport
  | LossWeightingReport
  | LabelSmoothingReport
  | DropoutReport
  | DistillationReport;

/** How weighted per-sample losses are reduced to the batch loss. */
export type LossReduction = 'sum_over_batch_size' | 'mean_with_weights';

/** An optimizer update a regulariser skipped. */
export interface SkippedStep {
  readonly name: string;
  readonly epoch: number;
  /** Steps completed, counting the skipped one (the `step` of its `step:end`, which carries `skipped: true`). */
  readonly step: number;
  /** Batch index of the step's last batch. */
  readonly batch: number;
  readonly reason: 'non-finite-gradients';
  /** The pre-clip global gradient norm that was found non-finite (NaN or ±Infinity). */
  readonly norm: number;
}

/** The events this package publishes, by type: the one list of its event types (merged into core's `TrainerEventMap`). */
export interface RegulariserEvents {
  /** What a regulariser did since its previous report (every `report.every` steps); device values are read lazily. */
  'regulariser:report': RegulariserReport;
  /** A regulariser skipped an optimizer update (non-finite gradients with `nonFinite: 'skip'`). */
  'regulariser:skipped': SkippedStep;
}

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type
  interface TrainerEventMap<M extends string = string> extends RegulariserEvents {}
}

/** The event names this package adds to core's `TrainerEventMap`. */
export type RegulariserEventType = keyof RegulariserEvents;
