import { range } from '../holdout/train-test-split.js';
import { checkSeed } from '../util/streams.js';
import { batchPolicy, samplerPlugin, type BatchPolicy, type SamplerOptions, type SamplerPlugin } from './sampler-plugin.js';

/**
 * Batches in row order, every epoch the same (`order: 'sequential'`, so it suits stateful RNNs). `dropLast`
 * defaults to `true`.
 *
 * @example
 * ```ts
 * trainer.use(sequentialSampler({ dropLast: true })); // a stateful RNN needs every batch full
 * ```
 */
export function sequentialSampler(options: BatchPolicy = {}): SamplerPlugin {
  const policy = batchPolicy(options);
  return samplerPlugin({ name: 'sequential-sampler', order: 'sequential', config: {}, indices: (ctx) => ({ indices: range(0, ctx.size) }) }, policy, undefined);
}

/**
 * A fresh seeded permutation of all rows every epoch (a full Fisher–Yates shuffle, not a window), cut into batches.
 * Epoch `e`'s order is a pure function of `(seed, e)`: the same whether or not earlier epochs ran, in any process.
 * Registering it replaces the trainer's own `shuffle` option (which then has no effect on in-memory data), and its
 * `dropLast` (default `false`, as the fit option) replaces the fit option `dropLast`.
 *
 * @example
 * ```ts
 * trainer.use(shuffleSampler({ seed: 42, minBatch: 8 })); // keep a last batch of at least 8 samples
 * ```
 */
export function shuffleSampler(options: SamplerOptions = {}): SamplerPlugin {
  const policy = batchPolicy(options);
  checkSeed(options.seed, 'options.seed');
  return samplerPlugin({ name: 'shuffle-sampler', order: 'shuffled', config: {}, indices: (ctx) => ({ indices: ctx.stream.permutation(ctx.size) }) }, policy, options.seed);
}
