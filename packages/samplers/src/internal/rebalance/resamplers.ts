import { FitstreamInputError } from '@fitstream/core';
import { batchPolicy, samplerPlugin, type EpochContext, type EpochIndices, type SamplerOptions, type SamplerPlugin } from '../batch/sampler-plugin.js';
import { encodeLabels } from '../util/labels.js';
import { checkSeed } from '../util/streams.js';
import { resolveSamplingStrategy, type SamplingKind, type SamplingStrategy } from './sampling-strategy.js';

/** Options of {@link randomOverSampler}. */
export interface RandomOverSamplerOptions extends SamplerOptions {
  /** imbalanced-learn's `sampling_strategy` (default `'auto'` = every class but the majority up to the majority count). */
  readonly samplingStrategy?: SamplingStrategy;
}

/** Options of {@link randomUnderSampler}. */
export interface RandomUnderSamplerOptions extends SamplerOptions {
  /** imbalanced-learn's `sampling_strategy` (default `'auto'` = every class but the minority down to the minority count). */
  readonly samplingStrategy?: SamplingStrategy;
  /** Draw the kept samples with replacement (default `false`). */
  readonly replacement?: boolean;
}

function strategyJson(s: SamplingStrategy): string | number | Record<string, number> {
  if (typeof s === 'string' || typeof s === 'number') return s;
  return s instanceof Map ? Object.fromEntries([...(s as ReadonlyMap<string | number, number>)].map(([k, v]) => [String(k), v])) : { ...(s as Record<string, number>) };
}

function labelsFor(ctx: EpochContext, who: string) {
  const labels = ctx.labels();
  if (labels.length !== ctx.size) throw new FitstreamInputError('data.y', `${who} got ${labels.length} labels for ${ctx.size} samples.`);
  return encodeLabels(labels, 'data.y');
}

function resample(ctx: EpochContext, strategy: SamplingStrategy, kind: SamplingKind, replacement: boolean, who: string): EpochIndices {
  const { classes, counts, members } = labelsFor(ctx, who);
  const targets = resolveSamplingStrategy(classes, counts, strategy, kind);
  const out: number[] = [];
  const after = [...counts];
  members.forEach((m, k) => {
    const stream = ctx.stream.derive('class', k);
    const target = targets.get(k);
    if (kind === 'over') {
      // imbalanced-learn: keep every original, then add bootstrap draws from the class.
      for (const i of m) out.push(i);
      for (let j = 0; j < (target ?? 0); j++) out.push(m[stream.int(m.length)]!);
      after[k] = m.length + (target ?? 0);
    } else if (target === undefined) {
      for (const i of m) out.push(i);
    } else {
      if (replacement) for (let j = 0; j < target; j++) out.push(m[stream.int(m.length)]!);
      else for (const p of stream.permutation(m.length).subarray(0, target)) out.push(m[p]!);
      after[k] = target;
    }
  });
  // The resampled list is class-grouped (imbalanced-learn#929): shuffle it so batches mix classes.
  const indices = ctx.stream.derive('order').shuffleInPlace(Int32Array.from(out));
  return { indices, classCounts: { classes: classes as number[], before: counts, after } };
}

/**
 * Random over-sampling (imbalanced-learn `RandomOverSampler`), **resampled every epoch**: keeps every original row and
 * adds bootstrap duplicates of the targeted classes per `samplingStrategy`, then shuffles. Reads `ctx.labels()`
 * (argmax of one-hot targets or sparse labels). `plans$` reports the class counts before and after.
 *
 * @example
 * ```ts
 * trainer.use(randomOverSampler({ samplingStrategy: 'auto', seed: 1 })); // every class up to the majority count
 * ```
 */
export function randomOverSampler(options: RandomOverSamplerOptions = {}): SamplerPlugin {
  const policy = batchPolicy(options);
  checkSeed(options.seed, 'options.seed');
  const strategy = options.samplingStrategy ?? 'auto';
  return samplerPlugin(
    { name: 'random-over-sampler', order: 'shuffled', config: { samplingStrategy: strategyJson(strategy) }, indices: (ctx) => resample(ctx, strategy, 'over', true, 'randomOverSampler') },
    policy,
    options.seed,
  );
}

/**
 * Random under-sampling (imbalanced-learn `RandomUnderSampler`), **resampled every epoch**: keeps a seeded subset of
 * each targeted class (the majority rows left out change from epoch to epoch, unlike imbalanced-learn's
 * `BalancedBatchGenerator`, which resamples once), keeps untargeted classes whole, and shuffles.
 *
 * @example
 * ```ts
 * trainer.use(randomUnderSampler({ samplingStrategy: 'not minority', seed: 1 }));
 * ```
 */
export function randomUnderSampler(options: RandomUnderSamplerOptions = {}): SamplerPlugin {
  const policy = batchPolicy(options);
  checkSeed(options.seed, 'options.seed');
  const strategy = options.samplingStrategy ?? 'auto';
  const replacement = options.replacement ?? false;
  return samplerPlugin(
    {
      name: 'random-under-sampler',
      order: 'shuffled',
      config: { samplingStrategy: strategyJson(strategy), replacement },
      indices: (ctx) => resample(ctx, strategy, 'under', replacement, 'randomUnderSampler'),
    },
    policy,
    options.seed,
  );
}
