import type { Plugin } from '@fitstream/core';
import {
  constantLr,
  cosineDecay,
  cosineRestarts,
  discriminativeLr,
  earlyStopping,
  ema,
  exponentialDecay,
  lossSpikeGuard,
  multiStepDecay,
  oneCycle,
  polynomialDecay,
  reduceLROnPlateau,
  stepDecay,
  swa,
  terminateOnNaN,
  timeBudget,
  warmup,
  type LearningRateSchedule,
  type WarmupOptions,
} from '@fitstream/callbacks';
import {
  classWeights,
  clipGradNorm,
  clipGradNormPerVariable,
  clipGradValue,
  decoupledWeightDecay,
  gaussianNoise,
  gradientNoise,
  l1,
  l1l2,
  l2,
  labelSmoothing,
  maxNorm,
  minMaxNorm,
  nonNeg,
  skipNonFiniteGradients,
  unitNorm,
} from '@fitstream/regularisers';
import { balancedBatchSampler, classBalancedSampler, randomOverSampler, randomUnderSampler, sequentialSampler, shuffleSampler } from '@fitstream/samplers';
import type { PluginName, PluginOptions } from './plugin-options.js';

/** Which list of a `fitstream fit` configuration a plugin goes in. */
export type PluginKind = 'callbacks' | 'regularisers' | 'sampler';

/** What the CLI hands a factory besides the user's `with:` (what a config file cannot hold). */
export interface PluginContext {
  /** Log lines of plugins that take a `log` (stderr). */
  readonly log: (line: string) => void;
  /** The training split's class indices (classification), for `classWeights: balanced`. */
  readonly labels?: ArrayLike<number> | undefined;
  /** Class names by index, so that `classWeights` may weigh classes by name. */
  readonly classNames?: readonly string[] | undefined;
}

/** One entry of the registry: its list, its package, and its factory over the validated `with:`. */
export interface PluginFactory<K extends PluginName = PluginName> {
  readonly kind: PluginKind;
  readonly package: '@fitstream/callbacks' | '@fitstream/regularisers' | '@fitstream/samplers';
  /**
   * Where a factory's own error names an option by another name (a positional argument: `l2(lambda)` reports
   * `weightPenalty: l2`): message word → `with:` key.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Whether configuration checking may build the plugin to let it validate its options (not when it needs data). */
  readonly checkable?: (options: PluginOptions[K]) => boolean;
  create(options: PluginOptions[K], context: PluginContext): Plugin;
}

/** A weight selection's `match` is a regular expression's source in a config file. */
function selection<T extends { readonly match?: string }>(options: T): Omit<T, 'match'> & { match?: RegExp } {
  const { match, ...rest } = options;
  return match === undefined ? rest : { ...rest, match: new RegExp(match) };
}

/** A schedule with its optional warm-up in front (callbacks' `warmup(options, schedule)`). */
function scheduled<T extends { readonly warmup?: WarmupOptions }>(options: T, make: (rest: Omit<T, 'warmup'>) => LearningRateSchedule): LearningRateSchedule {
  const { warmup: warm, ...rest } = options;
  const inner = make(rest);
  return warm === undefined ? inner : warmup(warm, inner);
}

/** `classWeights`' map may name classes: by index (`"0"`) or by class name (`"spam"`). */
function classWeightMap(weights: Readonly<Record<string, number>> | readonly number[], classNames: readonly string[] | undefined): Record<number, number> | readonly number[] {
  if (Array.isArray(weights)) return weights as readonly number[];
  const out: Record<number, number> = {};
  for (const [key, value] of Object.entries(weights)) {
    const byName = classNames?.indexOf(key) ?? -1;
    out[byName >= 0 ? byName : Number(key)] = value;
  }
  return out;
}

/**
 * Every plugin a `fitstream fit` configuration can name in `callbacks:`, `regularisers:` or `sampler:`, by name, with
 * its factory from @fitstream/callbacks, @fitstream/regularisers or @fitstream/samplers. The factories check their own
 * options (a `FitstreamInputError`); `with:` is checked against the plugin's generated JSON Schema first.
 */
export const PLUGINS: { readonly [K in PluginName]: PluginFactory<K> } = {
  earlyStopping: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o, c) => earlyStopping({ ...o, log: c.log }) },
  reduceLROnPlateau: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => reduceLROnPlateau(o) },
  terminateOnNaN: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => terminateOnNaN(o) },
  lossSpikeGuard: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => lossSpikeGuard(o) },
  timeBudget: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => timeBudget(o) },
  constantLr: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => constantLr(r)) },
  stepDecay: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => stepDecay(r)) },
  multiStepDecay: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => multiStepDecay(r)) },
  exponentialDecay: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => exponentialDecay(r)) },
  polynomialDecay: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => polynomialDecay(r)) },
  cosineDecay: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => cosineDecay(r)) },
  cosineRestarts: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => scheduled(o, (r) => cosineRestarts(r)) },
  oneCycle: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => oneCycle(o) },
  ema: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => ema(o) },
  swa: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => swa(o) },
  discriminativeLr: { kind: 'callbacks', package: '@fitstream/callbacks', create: (o) => discriminativeLr(o) },
  l1: { kind: 'regularisers', package: '@fitstream/regularisers', aliases: { l1: 'lambda' }, create: ({ lambda, ...o }) => l1(lambda, selection(o)) },
  l2: { kind: 'regularisers', package: '@fitstream/regularisers', aliases: { l2: 'lambda' }, create: ({ lambda, ...o }) => l2(lambda, selection(o)) },
  l1l2: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => l1l2(selection(o)) },
  decoupledWeightDecay: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => decoupledWeightDecay(selection(o)) },
  clipGradNorm: { kind: 'regularisers', package: '@fitstream/regularisers', create: ({ maxNorm: norm, ...o }) => clipGradNorm(norm, o) },
  clipGradNormPerVariable: { kind: 'regularisers', package: '@fitstream/regularisers', create: ({ maxNorm: norm, ...o }) => clipGradNormPerVariable(norm, o) },
  clipGradValue: { kind: 'regularisers', package: '@fitstream/regularisers', create: ({ clipValue, ...o }) => clipGradValue(clipValue, o) },
  skipNonFiniteGradients: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => skipNonFiniteGradients(o) },
  gaussianNoise: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => gaussianNoise(o) },
  gradientNoise: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => gradientNoise(o) },
  maxNorm: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => maxNorm(selection(o)) },
  minMaxNorm: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => minMaxNorm(selection(o)) },
  unitNorm: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => unitNorm(selection(o)) },
  nonNeg: { kind: 'regularisers', package: '@fitstream/regularisers', create: (o) => nonNeg(selection(o)) },
  classWeights: {
    kind: 'regularisers',
    package: '@fitstream/regularisers',
    aliases: { classWeights: 'weights' },
    checkable: (o) => o.weights !== 'balanced',
    create: ({ weights, ...o }, c) =>
      weights === 'balanced'
        ? classWeights('balanced', { ...o, ...(c.labels === undefined ? {} : { labels: c.labels }), ...(o.classes === undefined && c.classNames ? { classes: c.classNames.length } : {}) })
        : classWeights(classWeightMap(weights, c.classNames), o),
  },
  labelSmoothing: { kind: 'regularisers', package: '@fitstream/regularisers', aliases: { labelSmoothing: 'epsilon' }, create: ({ epsilon, ...o }) => labelSmoothing(epsilon, o) },
  sequentialSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => sequentialSampler(o) },
  shuffleSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => shuffleSampler(o) },
  randomOverSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => randomOverSampler(o) },
  randomUnderSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => randomUnderSampler(o) },
  classBalancedSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => classBalancedSampler(o) },
  balancedBatchSampler: { kind: 'sampler', package: '@fitstream/samplers', create: (o) => balancedBatchSampler(o) },
};

/** Names of the plugins of one list, for help and error messages. */
export function pluginNames(kind: PluginKind): PluginName[] {
  return (Object.keys(PLUGINS) as PluginName[]).filter((name) => PLUGINS[name].kind === kind);
}

/** Whether `name` is a plugin of the registry. */
export function isPluginName(name: string): name is PluginName {
  return Object.prototype.hasOwnProperty.call(PLUGINS, name);
}
