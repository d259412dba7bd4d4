import { FitstreamInputError } from '@fitstream/core';
import { samplerPlugin, type SamplerPlugin } from '../batch/sampler-plugin.js';
import { encodeLabels } from '../util/labels.js';
import { checkSeed } from '../util/streams.js';

/** Options of {@link balancedBatchSampler}. */
export interface BalancedBatchSamplerOptions {
  /** P: distinct classes per batch. */
  readonly classesPerBatch: number;
  /** K: samples per class per batch. A class with fewer than K members is drawn with replacement. */
  readonly samplesPerClass: number;
  /** Batches per epoch (default `floor(n / (P·K))`, at least 1). */
  readonly batchesPerEpoch?: number;
  readonly seed?: number | string;
}

/**
 * Per-batch balanced sampling (the "PK sampler" of metric learning): every batch holds P distinct classes, drawn
 * uniformly, with K samples of each (without replacement within the batch when the class has ≥ K members). The
 * batch size is P·K whatever the trainer's `batchSize`. Resampled every epoch; reads `ctx.labels()`.
 *
 * @example
 * ```ts
 * trainer.use(balancedBatchSampler({ classesPerBatch: 3, samplesPerClass: 4, seed: 0 })); // batches of 12
 * ```
 */
export function balancedBatchSampler(options: BalancedBatchSamplerOptions): SamplerPlugin {
  const { classesPerBatch: p, samplesPerClass: k, batchesPerEpoch, seed } = options ?? ({} as BalancedBatchSamplerOptions);
  for (const [v, arg] of [[p, 'classesPerBatch'], [k, 'samplesPerClass']] as const) {
    if (!Number.isInteger(v) || v < 1) throw new FitstreamInputError(`options.${arg}`, `must be an integer ≥ 1, got ${String(v)}.`);
  }
  if (batchesPerEpoch !== undefined && (!Number.isInteger(batchesPerEpoch) || batchesPerEpoch < 1)) {
    throw new FitstreamInputError('options.batchesPerEpoch', `must be an integer ≥ 1, got ${String(batchesPerEpoch)}.`);
  }
  checkSeed(seed, 'options.seed');
  return samplerPlugin(
    {
      name: 'balanced-batch-sampler',
      order: 'shuffled',
      fixedBatchSize: p * k,
      config: { classesPerBatch: p, samplesPerClass: k, batchesPerEpoch: batchesPerEpoch ?? null },
      indices: (ctx) => {
        const { members, classes, counts } = encodeLabels(ctx.labels(), 'data.y');
        if (p > classes.length) {
          throw new FitstreamInputError('options.classesPerBatch', `is ${p} but the labels have only ${classes.length} classes; lower classesPerBatch to at most ${classes.length}.`);
        }
        const batches = batchesPerEpoch ?? Math.max(1, Math.floor(ctx.size / (p * k)));
        const out = new Int32Array(batches * p * k);
        const after = new Array<number>(classes.length).fill(0);
        let at = 0;
        for (let b = 0; b < batches; b++) {
          const stream = ctx.stream.derive('batch', b);
          const chosen = stream.permutation(classes.length).subarray(0, p);
          for (const c of chosen) {
            const m = members[c]!;
            if (m.length >= k) for (const j of stream.permutation(m.length).subarray(0, k)) out[at++] = m[j]!;
            else for (let j = 0; j < k; j++) out[at++] = m[stream.int(m.length)]!;
            after[c]! += k;
          }
        }
        return { indices: out, classCounts: { classes: classes as number[], before: counts, after } };
      },
    },
    { dropLast: true, minBatch: 1 },
    seed,
  );
}
