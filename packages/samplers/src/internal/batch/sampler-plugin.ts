import { FitstreamInputError, IndexSampler, Random, StateProvider, provide, type Json, type PluginRegistry, type Plugin, type SamplerContext } from '@fitstream/core';
import { Subject, type Observable } from 'rxjs';
import { PURPOSE } from '../util/streams.js';

/** How an epoch's index list is cut into batches. */
export interface BatchPolicy {
  /**
   * Drop the last partial batch. Default `false`, as the trainer's own `dropLast` and Keras/PyTorch: every sample trains
   * every epoch. A tiny last batch makes a noisy step and breaks batch norm: set `minBatch` to drop only tails smaller
   * than it, or `dropLast: true` to drop every partial batch.
   */
  readonly dropLast?: boolean;
  /** Keep a last partial batch only when it has at least this many samples (fastai's refinement of `dropLast`). */
  readonly minBatch?: number;
}

/** Options every batch sampler takes. */
export interface SamplerOptions extends BatchPolicy {
  /**
   * Seeds the sampler's own streams: epoch `e` uses `(seed, sampler, e)`. Default: the trainer's stream for the
   * sampler, `(trainer seed, 'sampler:' + name, e)`, so the trainer's `seed` decides.
   */
  readonly seed?: number | string;
}

/** Class counts of one epoch's plan, before and after resampling (rebalancing samplers only). */
export interface ClassCounts {
  /** Class labels (the codes of `ctx.labels()`), ascending. */
  readonly classes: readonly number[];
  readonly before: readonly number[];
  readonly after: readonly number[];
}

/** One epoch's flat index list, before batching. */
export interface EpochIndices {
  readonly indices: Int32Array;
  readonly classCounts?: ClassCounts;
}

/** What an epoch order is computed from: the sampler context and the stream chosen by the seed option. */
export interface EpochContext extends SamplerContext {
  /** The stream for this sampler and epoch (from `options.seed`, or the trainer's `ctx.random`). */
  readonly stream: Random;
}

/** The part of a sampler that decides one epoch's flat index list: what {@link distributed} shards. */
export interface EpochOrder {
  readonly name: string;
  /** The random stream it draws from (default `name`); a sharding wrapper keeps its inner order's stream. */
  readonly stream?: string;
  readonly order: 'shuffled' | 'sequential';
  /** A batch size the sampler fixes itself (P×K batches), overriding the trainer's `batchSize`. */
  readonly fixedBatchSize?: number;
  /** The sampler's settings, recorded in checkpoints to refuse resuming with other settings. */
  readonly config: Json;
  indices(ctx: EpochContext): EpochIndices;
}

/** What a sampler plugin reports each time it plans an epoch. */
export interface SamplerPlanReport {
  readonly sampler: string;
  readonly epoch: number;
  /** Samples in the epoch after batching (dropped tails excluded). */
  readonly samples: number;
  readonly batches: number;
  readonly classCounts?: ClassCounts;
}

/** Options of {@link SamplerPlugin.preview}. */
export interface PreviewOptions {
  readonly size: number;
  readonly batchSize: number;
  readonly epoch?: number;
  /** Class labels per sample (rebalancing samplers). */
  readonly labels?: ArrayLike<number>;
  /** The trainer seed to mimic: the preview then equals what `createTrainer({ seed })` plans. Default 0. */
  readonly trainerSeed?: number | string;
}

/**
 * A core {@link Plugin} that registers an {@link IndexSampler}, plus what this package adds: the epoch order (for
 * {@link distributed}), a stream of plan reports, and a preview outside any trainer.
 */
export interface SamplerPlugin extends Plugin {
  readonly sampler: IndexSampler;
  readonly source: EpochOrder;
  readonly batching: Required<Pick<BatchPolicy, 'dropLast'>> & { readonly minBatch: number };
  readonly seed: number | string | undefined;
  /** Registers the index sampler and a state provider (called by `trainer.use`). */
  register(registry: PluginRegistry): void;
  /** Every plan this sampler computes (epoch, sizes, class counts before/after resampling). Hot, not replayed. */
  readonly plans$: Observable<SamplerPlanReport>;
  /** The batches of one epoch, computed as a trainer with seed `trainerSeed` would. */
  preview(options: PreviewOptions): readonly Int32Array[];
}

/** Normalises a batch policy. */
export function batchPolicy(options: BatchPolicy, argument = 'options'): { dropLast: boolean; minBatch: number } {
  const { minBatch } = options;
  if (minBatch !== undefined && (!Number.isInteger(minBatch) || minBatch < 1)) {
    throw new FitstreamInputError(`${argument}.minBatch`, `must be an integer ≥ 1, got ${String(minBatch)}.`);
  }
  if (options.dropLast !== undefined && typeof options.dropLast !== 'boolean') throw new FitstreamInputError(`${argument}.dropLast`, `must be a boolean, got ${String(options.dropLast)}.`);
  const dropLast = options.dropLast ?? false;
  if (dropLast && minBatch !== undefined) {
    throw new FitstreamInputError(`${argument}.minBatch`, 'has no effect with dropLast: true (every partial batch drops); set dropLast: false to keep tails of at least minBatch samples.');
  }
  return { dropLast, minBatch: minBatch ?? 1 };
}

/** Cuts an index list into batches; the tail drops per the policy. Throws when nothing is left. */
export function toBatches(indices: Int32Array, batchSize: number, policy: { dropLast: boolean; minBatch: number }, who: string): Int32Array[] {
  const batches: Int32Array[] = [];
  for (let start = 0; start < indices.length; start += batchSize) {
    const end = Math.min(start + batchSize, indices.length);
    const size = end - start;
    if (size < batchSize && (policy.dropLast || size < policy.minBatch)) break;
    batches.push(indices.subarray(start, end));
  }
  if (batches.length === 0) {
    throw new FitstreamInputError(
      'options.batchSize',
      `${who} has ${indices.length} samples this epoch, no batch of ${batchSize}${policy.dropLast ? ' with dropLast: true' : ` of at least minBatch ${policy.minBatch}`}; lower batchSize or set dropLast: false.`,
    );
  }
  return batches;
}

/** FNV-1a of a JSON text, as 8 hex digits: a short fingerprint of a sampler's settings. */
export function fingerprint(value: Json): string {
  const text = JSON.stringify(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Builds the plugin around an epoch order: batching, reports, a state provider that checks settings on resume. */
export function samplerPlugin(source: EpochOrder, policy: { dropLast: boolean; minBatch: number }, seed: number | string | undefined, shard?: (ctx: EpochContext, list: EpochIndices) => EpochIndices): SamplerPlugin {
  const name = source.name;
  const streamName = source.stream ?? name;
  const reports = new Subject<SamplerPlanReport>();
  const config: Json = { sampler: name, seed: seed ?? null, dropLast: policy.dropLast, minBatch: policy.minBatch, source: source.config };
  const print = fingerprint(config);
  let last: { key: string; plan: readonly Int32Array[] } | undefined;
  let lastEpoch: number | null = null;

  const compute = (ctx: SamplerContext): { batches: Int32Array[]; list: EpochIndices } => {
    const stream = seed === undefined ? ctx.random : Random.fromSeed(seed).derive(`${PURPOSE}/${streamName}`, ctx.epoch);
    const epochCtx: EpochContext = { size: ctx.size, batchSize: ctx.batchSize, epoch: ctx.epoch, random: ctx.random, labels: () => ctx.labels(), stream };
    let list = source.indices(epochCtx);
    if (shard) list = shard(epochCtx, list);
    return { batches: toBatches(list.indices, source.fixedBatchSize ?? ctx.batchSize, policy, `Sampler "${name}"`), list };
  };
  // The trainer asks for an epoch's plan more than once (its length up front, then the batches): compute it once.
  const plan = (ctx: SamplerContext): readonly Int32Array[] => {
    const key = `${ctx.epoch}/${ctx.size}/${ctx.batchSize}/${ctx.random.getState().key.join(',')}`;
    if (last?.key === key) return last.plan;
    const { batches, list } = compute(ctx);
    last = { key, plan: batches };
    lastEpoch = ctx.epoch;
    reports.next({
      sampler: name,
      epoch: ctx.epoch,
      samples: batches.reduce((s, b) => s + b.length, 0),
      batches: batches.length,
      ...(list.classCounts ? { classCounts: list.classCounts } : {}),
    });
    return batches;
  };
  const sampler: IndexSampler = { name, order: source.order, stream: streamName, plan };
  const state: StateProvider = {
    key: `${PURPOSE}/${name}`,
    // Plans are pure functions of (seed, epoch): the trainer's own epoch and batch cursor are all resume needs. What
    // is saved here only guards against resuming with other sampler settings, which would silently change the data.
    getState: () => ({ fingerprint: print, lastPlannedEpoch: lastEpoch }),
    setState: (s) => {
      const saved = (s as { fingerprint?: unknown } | null)?.fingerprint;
      if (saved !== print) {
        throw new FitstreamInputError('plugins', `sampler "${name}" was checkpointed with other settings (fingerprint ${String(saved)}, now ${print}); resume with the same sampler options and seed, or start a new fit.`);
      }
    },
  };
  return {
    name,
    sampler,
    source,
    batching: policy,
    seed,
    plans$: reports.asObservable(),
    register(container) {
      provide(container, IndexSampler, sampler);
      provide(container, StateProvider, state);
    },
    preview(options: PreviewOptions): readonly Int32Array[] {
      const labels = options.labels ? Int32Array.from(options.labels) : undefined;
      const epoch = options.epoch ?? 0;
      return compute({
        size: options.size,
        batchSize: options.batchSize,
        epoch,
        random: Random.fromSeed(options.trainerSeed ?? 0).derive(`sampler:${streamName}`, epoch),
        labels: () => {
          if (!labels) throw new FitstreamInputError('options.labels', `sampler "${name}" reads class labels; pass preview({ labels }).`);
          return labels;
        },
      }).batches;
    },
  };
}
