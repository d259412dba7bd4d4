import { FitstreamInputError, type Random } from '@fitstream/core';
import { batchPolicy, samplerPlugin, type SamplerOptions, type SamplerPlugin } from '../batch/sampler-plugin.js';
import { encodeLabels } from '../util/labels.js';
import { checkSeed } from '../util/streams.js';

/** Checks weights and a draw count; returns how many weights are positive. */
function checkWeights(weights: ArrayLike<number>, numSamples: number, replacement: boolean, argument: string): number {
  const n = weights.length;
  if (n === 0) throw new FitstreamInputError(argument, 'is empty; pass one weight per sample.');
  let positive = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0) || !Number.isFinite(w)) throw new FitstreamInputError(`${argument}[${i}]`, `is ${w}; weights must be finite and ≥ 0.`);
    if (w > 0) positive++;
  }
  if (positive === 0) throw new FitstreamInputError(argument, 'are all 0; at least one sample needs a positive weight.');
  if (!Number.isInteger(numSamples) || numSamples < 1) throw new FitstreamInputError('options.numSamples', `must be an integer ≥ 1, got ${String(numSamples)}.`);
  if (!replacement && numSamples > positive) {
    throw new FitstreamInputError('options.numSamples', `is ${numSamples} but only ${positive} samples have a positive weight; without replacement numSamples must be ≤ ${positive}, or set replacement: true.`);
  }
  return positive;
}

/**
 * Draws `numSamples` indices with probability proportional to `weights` (PyTorch `WeightedRandomSampler` /
 * `torch.multinomial`). With replacement it inverts the float64 CDF by binary search (exact up to float64, no 2²⁴
 * category limit); without replacement it uses Efraimidis–Spirakis keys `log(u)/w`, which equals drawing one at a time
 * without replacement. Zero-weight indices are never drawn.
 *
 * @example
 * ```ts
 * const picks = weightedDraw([1, 0, 3], 10, true, Random.fromSeed(1)); // only 0 and 2, about 1:3
 * ```
 */
export function weightedDraw(weights: ArrayLike<number>, numSamples: number, replacement: boolean, random: Random, argument = 'options.weights'): Int32Array {
  const n = weights.length;
  checkWeights(weights, numSamples, replacement, argument);
  const out = new Int32Array(numSamples);
  if (replacement) {
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) cdf[i] = sum += weights[i]!;
    for (let j = 0; j < numSamples; j++) {
      const u = random.next() * sum;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid]! > u) hi = mid;
        else lo = mid + 1;
      }
      out[j] = lo;
    }
    return out;
  }
  const keys: { i: number; key: number }[] = [];
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (w === 0) continue;
    let u = random.next();
    while (u === 0) u = random.next();
    keys.push({ i, key: Math.log(u) / w });
  }
  keys.sort((a, b) => b.key - a.key || a.i - b.i);
  for (let j = 0; j < numSamples; j++) out[j] = keys[j]!.i;
  return out;
}

/** Options of {@link weightedRandomSampler}. */
export interface WeightedRandomSamplerOptions extends SamplerOptions {
  /** One non-negative weight per sample; they need not sum to 1. */
  readonly weights: ArrayLike<number>;
  /** Draws per epoch (default: the number of samples). This sets the epoch length. */
  readonly numSamples?: number;
  /** Draw with replacement (default `true`). */
  readonly replacement?: boolean;
}

/**
 * Weighted random sampling per epoch (PyTorch `WeightedRandomSampler`): `numSamples` draws with probability ∝ weight.
 *
 * @example
 * ```ts
 * trainer.use(weightedRandomSampler({ weights: perSampleWeights, numSamples: 2000, seed: 3 }));
 * ```
 */
export function weightedRandomSampler(options: WeightedRandomSamplerOptions): SamplerPlugin {
  if (options?.weights == null) throw new FitstreamInputError('options.weights', 'is required: one weight per sample.');
  const policy = batchPolicy(options);
  checkSeed(options.seed, 'options.seed');
  const weights = Float64Array.from(options.weights);
  const replacement = options.replacement ?? true;
  checkWeights(weights, options.numSamples ?? weights.length, replacement, 'options.weights');
  let sum = 0;
  for (const w of weights) sum += w;
  return samplerPlugin(
    {
      name: 'weighted-random-sampler',
      order: 'shuffled',
      config: { n: weights.length, weightSum: sum, numSamples: options.numSamples ?? null, replacement },
      indices: (ctx) => {
        if (ctx.size !== weights.length) throw new FitstreamInputError('options.weights', `has ${weights.length} weights but the data has ${ctx.size} samples; pass one weight per sample.`);
        return { indices: weightedDraw(weights, options.numSamples ?? ctx.size, replacement, ctx.stream) };
      },
    },
    policy,
    options.seed,
  );
}

/** Options of {@link classBalancedSampler}. */
export interface ClassBalancedSamplerOptions extends SamplerOptions {
  /** Draws per epoch (default: the number of samples). */
  readonly numSamples?: number;
  readonly replacement?: boolean;
}

/**
 * Class-balanced weighted sampling: each sample weighs `1 / count(its class)`, so every class is drawn equally often
 * in expectation (the PyTorch idiom). Reads `ctx.labels()`; resampled every epoch.
 *
 * @example
 * ```ts
 * trainer.use(classBalancedSampler({ seed: 5 }));
 * ```
 */
export function classBalancedSampler(options: ClassBalancedSamplerOptions = {}): SamplerPlugin {
  const policy = batchPolicy(options);
  checkSeed(options.seed, 'options.seed');
  const replacement = options.replacement ?? true;
  return samplerPlugin(
    {
      name: 'class-balanced-sampler',
      order: 'shuffled',
      config: { numSamples: options.numSamples ?? null, replacement },
      indices: (ctx) => {
        const { codes, counts, classes } = encodeLabels(ctx.labels(), 'data.y');
        const weights = Float64Array.from(codes, (k) => 1 / counts[k]!);
        const indices = weightedDraw(weights, options.numSamples ?? ctx.size, replacement, ctx.stream);
        const after = new Array<number>(classes.length).fill(0);
        for (const i of indices) after[codes[i]!]! += 1;
        return { indices, classCounts: { classes: classes as number[], before: counts, after } };
      },
    },
    policy,
    options.seed,
  );
}
