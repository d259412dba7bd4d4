import type {
  DiscriminativeLrOptions,
  EarlyStoppingOptions,
  EmaOptions,
  LossSpikeGuardOptions,
  OneCycleOptions,
  ReduceLROnPlateauOptions,
  ScheduleOptions,
  SwaOptions,
  TerminateOnNaNOptions,
  TimeBudgetOptions,
  WarmupOptions,
} from '@fitstream/callbacks';
import type {
  ClassWeightsOptions,
  ClipGradNormOptions,
  ClipOptions,
  ConstraintOptions,
  DecoupledWeightDecayOptions,
  GaussianNoiseOptions,
  GradientNoiseOptions,
  LabelSmoothingOptions,
  SkipNonFiniteOptions,
  WeightPenaltyOptions,
} from '@fitstream/regularisers';
import type { BalancedBatchSamplerOptions, BatchPolicy, ClassBalancedSamplerOptions, RandomOverSamplerOptions, RandomUnderSamplerOptions, SamplerOptions } from '@fitstream/samplers';

/*
 * The `with:` of every plugin a `fitstream fit` configuration can list, derived from the plugins' own option types, so
 * that validation and the documentation cannot drift from the packages: `scripts/plugin-schemas.ts` turns this
 * interface into JSON Schema (src/fit/plugin-schemas.json, checked in and checked by a test), which validates `with:`
 * before the factory runs. Leaving out: options that are functions or streams (`log`: the CLI's), data the CLI supplies
 * (`labels`: the training targets; `batchNormData`: tensors), and positional arguments become named keys (`l2(lambda)` → `with: { lambda }`).
 * A weight selection's `match` is a regular expression's source text in a config file.
 */

type Selection<T> = Omit<T, 'match'> & {
  /** Regular expression (source text) over variable names, e.g. `^dense_Dense\d+/kernel`. */
  readonly match?: string;
};

/** A learning-rate schedule with an optional linear warm-up in front of it. */
type Schedule<T> = T & {
  /** Linear warm-up before the schedule (callbacks' `warmup(options, schedule)`). */
  readonly warmup?: WarmupOptions;
};

/** Options (`with:`) of each plugin, by the name `use:` gives. */
export interface PluginOptions {
  // @fitstream/callbacks: policies
  earlyStopping: Omit<EarlyStoppingOptions, 'log'>;
  reduceLROnPlateau: ReduceLROnPlateauOptions;
  terminateOnNaN: TerminateOnNaNOptions;
  lossSpikeGuard: LossSpikeGuardOptions;
  timeBudget: TimeBudgetOptions;
  // @fitstream/callbacks: learning-rate schedules
  constantLr: Schedule<ScheduleOptions>;
  stepDecay: Schedule<ScheduleOptions & { readonly stepSize: number; readonly gamma?: number }>;
  multiStepDecay: Schedule<ScheduleOptions & { readonly milestones: readonly number[]; readonly gamma?: number }>;
  exponentialDecay: Schedule<ScheduleOptions & { readonly decayRate: number; readonly decaySteps: number; readonly staircase?: boolean }>;
  polynomialDecay: Schedule<ScheduleOptions & { readonly decaySteps: number; readonly endLr?: number; readonly power?: number; readonly cycle?: boolean }>;
  cosineDecay: Schedule<ScheduleOptions & { readonly totalSteps: number; readonly minLr?: number }>;
  cosineRestarts: Schedule<ScheduleOptions & { readonly t0: number; readonly tMult?: number; readonly minLr?: number; readonly restartDecay?: number }>;
  oneCycle: OneCycleOptions;
  // @fitstream/callbacks: weight averaging and fine-tuning
  ema: EmaOptions;
  swa: Omit<SwaOptions, 'batchNormData'>;
  discriminativeLr: DiscriminativeLrOptions;
  // @fitstream/regularisers
  l1: Selection<Omit<WeightPenaltyOptions, 'l1' | 'l2'>> & { readonly lambda: number };
  l2: Selection<Omit<WeightPenaltyOptions, 'l1' | 'l2'>> & { readonly lambda: number };
  l1l2: Selection<WeightPenaltyOptions>;
  decoupledWeightDecay: Selection<DecoupledWeightDecayOptions>;
  clipGradNorm: ClipGradNormOptions & { readonly maxNorm: number };
  clipGradNormPerVariable: ClipOptions & { readonly maxNorm: number };
  clipGradValue: ClipOptions & { readonly clipValue: number };
  skipNonFiniteGradients: SkipNonFiniteOptions;
  gaussianNoise: GaussianNoiseOptions;
  gradientNoise: GradientNoiseOptions;
  maxNorm: Selection<ConstraintOptions> & { readonly maxValue?: number };
  minMaxNorm: Selection<ConstraintOptions> & { readonly minValue?: number; readonly maxValue?: number; readonly rate?: number };
  unitNorm: Selection<ConstraintOptions>;
  nonNeg: Selection<Omit<ConstraintOptions, 'axis'>>;
  classWeights: Omit<ClassWeightsOptions, 'labels'> & {
    /**
     * A weight per class — a list by class index, or a map by class index or class name (`{ "0": 1, "spam": 5 }`) — or
     * `'balanced'` (from the training labels). Regularisers' `ClassWeightMap`, with keys as JSON writes them.
     */
    readonly weights: readonly number[] | Readonly<Record<string, number>> | 'balanced';
  };
  labelSmoothing: LabelSmoothingOptions & { readonly epsilon: number };
  // @fitstream/samplers
  sequentialSampler: BatchPolicy;
  shuffleSampler: SamplerOptions;
  randomOverSampler: RandomOverSamplerOptions;
  randomUnderSampler: RandomUnderSamplerOptions;
  classBalancedSampler: ClassBalancedSamplerOptions;
  balancedBatchSampler: BalancedBatchSamplerOptions;
}

/** A plugin's name as `use:` gives it. */
export type PluginName = keyof PluginOptions;
