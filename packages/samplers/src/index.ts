/**
 * @fitstream/samplers — hold-out splits, cross-validation, bootstrap, rebalancing and distributed sharding for
 * fitstream, with scikit-learn, imbalanced-learn and PyTorch semantics. Every random stream is a pure function of
 * `(seed, purpose, epoch | fold | repeat)` through core's `Random`, so plans reproduce in any process.
 *
 * @packageDocumentation
 */
export { trainTestSplit, trainValTestSplit } from './internal/holdout/train-test-split.js';
export type { HoldoutOptions, TrainTestSplitOptions, TrainTestIndices, TrainValTestSplitOptions, TrainValTestIndices } from './internal/holdout/train-test-split.js';
export type { SplitSize } from './internal/util/sizes.js';
export type { Label } from './internal/util/labels.js';

export type { Splitter, Fold, SplitInput } from './internal/cv/splitter.js';
export { kFold, stratifiedKFold, repeatedStratifiedKFold } from './internal/cv/k-fold.js';
export type { KFoldOptions, StratifiedKFoldOptions, RepeatedStratifiedKFoldOptions, WarnOption } from './internal/cv/k-fold.js';
export { groupKFold } from './internal/cv/group-k-fold.js';
export type { GroupKFoldOptions } from './internal/cv/group-k-fold.js';
export { shuffleSplit, stratifiedShuffleSplit } from './internal/cv/shuffle-split.js';
export type { ShuffleSplitOptions } from './internal/cv/shuffle-split.js';
export { crossValidate, summarize, formatSummary, labelsOf } from './internal/cv/cross-validate.js';
export type { CrossValidateOptions, CrossValidationEvent, CrossValidationSummary, FoldResult, FoldInfo, FoldTrainer } from './internal/cv/cross-validate.js';

export { bootstrap } from './internal/bootstrap/bootstrap.js';
export type { BootstrapOptions, BootstrapSample } from './internal/bootstrap/bootstrap.js';

export { sequentialSampler, shuffleSampler } from './internal/batch/basic.js';
export type {
  BatchPolicy,
  SamplerOptions,
  SamplerPlugin,
  SamplerPlanReport,
  ClassCounts,
  EpochOrder,
  EpochIndices,
  EpochContext,
  PreviewOptions,
} from './internal/batch/sampler-plugin.js';

export { randomOverSampler, randomUnderSampler } from './internal/rebalance/resamplers.js';
export type { RandomOverSamplerOptions, RandomUnderSamplerOptions } from './internal/rebalance/resamplers.js';
export { resolveSamplingStrategy, samplingTargets } from './internal/rebalance/sampling-strategy.js';
export type { SamplingStrategy, SamplingKind } from './internal/rebalance/sampling-strategy.js';
export { weightedRandomSampler, classBalancedSampler, weightedDraw } from './internal/rebalance/weighted.js';
export type { WeightedRandomSamplerOptions, ClassBalancedSamplerOptions } from './internal/rebalance/weighted.js';
export { balancedBatchSampler } from './internal/rebalance/balanced-batches.js';
export type { BalancedBatchSamplerOptions } from './internal/rebalance/balanced-batches.js';

export { distributed, shardIndices, evaluationShard } from './internal/distributed/distributed.js';
export type { DistributedOptions, ShardOptions } from './internal/distributed/distributed.js';

export { trainOnly, roleTransform, applyForRole, augmentation } from './internal/roles/roles.js';
export type { Role, RoleTransform } from './internal/roles/roles.js';
export { standardScaler, prepareSplits, gatherRows } from './internal/roles/preprocess.js';
export type { Preprocessor, FittedPreprocessor, StandardScalerOptions, Rows, RoleIndices, PreparedSplits } from './internal/roles/preprocess.js';
