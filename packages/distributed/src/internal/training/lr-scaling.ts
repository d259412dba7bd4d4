import { FitstreamInputError } from '@fitstream/core';

/**
 * The learning-rate rule of Goyal et al. 2017 ("Accurate, Large Minibatch SGD"): when the global batch grows k-fold,
 * multiply the learning rate by k (`'linear'`), reaching it by a gradual warm-up from the base rate.
 */
export interface LrScalingOptions {
  /** `'linear'` (default): `lr = baseLr × globalBatch / baseBatchSize`. `'none'`: keep the base rate. */
  readonly scaling?: 'linear' | 'none';
  /** The batch the base rate was tuned for (default: one replica's batch, so the factor is the world size). */
  readonly baseBatchSize?: number;
  /** Warm-up length in epochs (Goyal et al.: 5); needs data of known length. Default 0 unless `warmupSteps`. */
  readonly warmupEpochs?: number;
  /** Warm-up length in optimizer steps (wins over `warmupEpochs`). */
  readonly warmupSteps?: number;
}

/** The rate in force at optimizer step `step` (0-based) under linear scaling with gradual warm-up. */
export function scaledLearningRate(o: { readonly baseLr: number; readonly factor: number; readonly warmupSteps: number; readonly step: number }): number {
  const target = o.baseLr * o.factor;
  if (o.warmupSteps <= 0 || o.step >= o.warmupSteps) return target;
  return o.baseLr + ((target - o.baseLr) * o.step) / o.warmupSteps;
}

/**
 * The rule as a factor on the base schedule's rate at optimizer step `step`: `k` after the warm-up, and a linear ramp
 * from 1 to `k` during it. Core's learning-rate pipeline multiplies any base schedule by it (`scaledLearningRate / baseLr`).
 *
 * @example
 * ```ts
 * learningRateScaleAt({ factor: 4, warmupSteps: 100 }, 50); // 2.5
 * ```
 */
export function learningRateScaleAt(plan: Pick<LrPlan, 'factor' | 'warmupSteps'>, step: number): number {
  return scaledLearningRate({ baseLr: 1, factor: plan.factor, warmupSteps: plan.warmupSteps, step });
}

/** Whether the options ask for a gradual warm-up (then the rule shapes the warm-up and refuses a second one). */
export function hasWarmup(options: LrScalingOptions): boolean {
  if ((options.scaling ?? 'linear') === 'none') return false;
  return options.warmupSteps !== undefined ? options.warmupSteps > 0 : (options.warmupEpochs ?? 0) > 0;
}

/** Resolved plan of the rule for one fit, and its log line. */
export interface LrPlan {
  readonly baseLr: number;
  readonly factor: number;
  readonly target: number;
  readonly warmupSteps: number;
  readonly text: string;
}

/**
 * Resolves the rule for one fit. `batchesPerEpoch` counts what one warm-up epoch is in optimizer steps (the trainer
 * passes its steps per epoch, i.e. batches / `accumulateBatches`).
 *
 * @example
 * ```ts
 * planLearningRate({ warmupEpochs: 5 }, { baseLr: 0.1, worldSize: 8, perReplicaBatch: 32, batchesPerEpoch: 100 }).text;
 * ```
 */
export function planLearningRate(options: LrScalingOptions, fit: { baseLr: number; worldSize: number; perReplicaBatch: number; batchesPerEpoch: number | undefined }): LrPlan {
  const scaling = options.scaling ?? 'linear';
  const base = options.baseBatchSize ?? fit.perReplicaBatch;
  if (!(base > 0)) throw new FitstreamInputError('lr.baseBatchSize', `must be > 0, got ${String(base)}.`);
  const globalBatch = fit.worldSize * fit.perReplicaBatch;
  const factor = scaling === 'linear' ? globalBatch / base : 1;
  let warmupSteps = options.warmupSteps ?? 0;
  if (options.warmupSteps === undefined && options.warmupEpochs) {
    if (fit.batchesPerEpoch === undefined) throw new FitstreamInputError('lr.warmupEpochs', 'needs data of known length (in-memory data or stepsPerEpoch); pass warmupSteps instead.');
    warmupSteps = Math.round(options.warmupEpochs * fit.batchesPerEpoch);
  }
  if (scaling === 'none') warmupSteps = 0;
  const target = fit.baseLr * factor;
  const fmt = (x: number) => Number(x.toPrecision(6)).toString();
  const text =
    scaling === 'none'
      ? `learning rate ${fmt(fit.baseLr)} (no scaling; global batch ${globalBatch} = ${fit.worldSize} × ${fit.perReplicaBatch})`
      : `linear LR scaling (Goyal et al. 2017): ${fmt(fit.baseLr)} × global batch ${globalBatch} (${fit.worldSize} × ${fit.perReplicaBatch}) / base batch ${base} = ${fmt(target)}` +
        (warmupSteps > 0 ? `; gradual warm-up from ${fmt(fit.baseLr)} over ${warmupSteps} steps${options.warmupEpochs && options.warmupSteps === undefined ? ` (${options.warmupEpochs} epochs)` : ''}` : '; no warm-up');
  return { baseLr: fit.baseLr, factor, target, warmupSteps, text };
}
