import { FitstreamInputError } from '@fitstream/core';
import { batchPolicy, samplerPlugin, type BatchPolicy, type SamplerPlugin } from '../batch/sampler-plugin.js';

/** Which replica this process is, and how many there are. */
export interface ShardOptions {
  readonly rank: number;
  readonly worldSize: number;
}

/** Options of {@link distributed}. */
export interface DistributedOptions extends ShardOptions, BatchPolicy {
  /**
   * `true` (default, PyTorch `drop_last=False`): pad the epoch's list by repeating its head up to a multiple of
   * `worldSize`, so every rank gets `ceil(N/R)` indices and `R·ceil(N/R) − N` samples appear twice. `false` (PyTorch
   * `drop_last=True`): cut the tail so every rank gets `⌊N/R⌋`, disjoint.
   */
  readonly pad?: boolean;
}

function checkShard({ rank, worldSize }: ShardOptions): void {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new FitstreamInputError('options.worldSize', `must be an integer ≥ 1 (the number of replicas), got ${String(worldSize)}.`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new FitstreamInputError('options.rank', `must be an integer in [0, ${worldSize - 1}] (worldSize ${worldSize}), got ${String(rank)}.`);
  }
}

/**
 * PyTorch `DistributedSampler`'s sharding of one epoch's global list: padded (head repeated) or cut to a multiple of
 * `worldSize`, then rank `r` takes positions `r, r+R, r+2R, …` (strided, so padding duplicates land on different
 * ranks, pytorch/pytorch#12474). Every rank gets the same length, which keeps collectives from hanging.
 *
 * @example
 * ```ts
 * shardIndices(Int32Array.from([4, 2, 0, 1, 3]), { rank: 1, worldSize: 2, pad: true }); // [2, 1, 4]: 4 is repeated
 * ```
 */
export function shardIndices(global: Int32Array, options: ShardOptions & { readonly pad?: boolean }): Int32Array {
  checkShard(options);
  const { rank, worldSize: r } = options;
  const n = global.length;
  const pad = options.pad ?? true;
  let list = global;
  if (pad) {
    const per = Math.ceil(n / r);
    const total = per * r;
    if (total > n) {
      if (n === 0) throw new FitstreamInputError('data', 'the epoch has no samples to shard; pass data.');
      list = new Int32Array(total);
      list.set(global);
      for (let i = n; i < total; i++) list[i] = global[(i - n) % n]!; // the head, repeated as often as needed
    }
  } else {
    const per = n % r === 0 ? n / r : Math.ceil((n - r) / r);
    list = global.subarray(0, Math.max(0, per) * r);
  }
  const out = new Int32Array(list.length / r);
  for (let i = 0; i < out.length; i++) out[i] = list[rank + i * r]!;
  return out;
}

/**
 * Shards another sampler's epochs across replicas with PyTorch `DistributedSampler` semantics: every rank computes the
 * inner sampler's own global list — drawn from the inner sampler's stream `(seed, epoch)`, which never involves the
 * rank, so ranks agree as long as they share the trainer seed (or the inner sampler's `seed`), and with one replica
 * the order is exactly the inner sampler's — and keeps its strided shard. Over- or weighted
 * samplers shard *after* resampling, as pytorch/pytorch#77154 recommends. The rank's shard is then cut into batches
 * with the inner sampler's `dropLast`/`minBatch` unless overridden here. For exact evaluation use
 * {@link evaluationShard}, which never pads.
 *
 * @example
 * ```ts
 * trainer.use(distributed(shuffleSampler({ seed: 7 }), { rank, worldSize: 4 }));
 * ```
 */
export function distributed(inner: SamplerPlugin, options: DistributedOptions): SamplerPlugin {
  if (!inner?.source || !inner.batching) throw new FitstreamInputError('inner', 'must be a sampler from @fitstream/samplers (e.g. shuffleSampler()), whose epoch order can be sharded.');
  checkShard(options);
  if (inner.source.fixedBatchSize !== undefined) {
    throw new FitstreamInputError('inner', `"${inner.name}" plans whole batches (P×K); striding its list would break them. Give each rank its own balancedBatchSampler with a rank-specific seed instead.`);
  }
  const pad = options.pad ?? true;
  const policy = options.dropLast === undefined && options.minBatch === undefined ? inner.batching : batchPolicy(options);
  const { rank, worldSize } = options;
  // The stream is the inner sampler's (never the rank's): every rank computes the inner sampler's own global order.
  return samplerPlugin(
    { ...inner.source, name: `distributed-${inner.source.name}`, stream: inner.source.stream ?? inner.source.name, config: { inner: inner.source.config, worldSize, pad } },
    policy,
    inner.seed,
    (ctx, list) => ({ ...list, indices: shardIndices(list.indices, { rank, worldSize, pad }) }),
  );
}

/**
 * The exact, unpadded evaluation shard of `n` samples: rank `r` takes `r, r+R, …`, so every index is scored exactly
 * once across ranks (shards differ in length by at most one; sum the per-rank sums and counts, not the means).
 * PyTorch's padded sampler double-counts in evaluation (pytorch/pytorch#25162).
 *
 * @example
 * ```ts
 * const mine = evaluationShard(10, { rank: 1, worldSize: 4 }); // [1, 5, 9]
 * ```
 */
export function evaluationShard(n: number, options: ShardOptions): Int32Array {
  checkShard(options);
  if (!Number.isInteger(n) || n < 0) throw new FitstreamInputError('n', `must be the number of samples, an integer ≥ 0, got ${String(n)}.`);
  const { rank, worldSize } = options;
  const out = new Int32Array(Math.max(0, Math.ceil((n - rank) / worldSize)));
  for (let i = 0; i < out.length; i++) out[i] = rank + i * worldSize;
  return out;
}
