import type { DataSource } from './data.js';
import { FitstreamInputError, assertNonNegativeInteger, assertPositiveInteger } from './errors.js';

/** Batch size when neither the fit nor the data says. */
export const DEFAULT_BATCH = 32;

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Index of the last epoch, exclusive (Keras semantics: with `initialEpoch: 3, epochs: 5` epochs 3 and 4 run). */
  readonly epochs: number;
  /** Batch size for in-memory data (default 32); streams bring their own batches. */
  readonly batchSize?: number;
  readonly validation?: DataSource;
  /** Batch size for in-memory validation data (default: `batchSize`). */
  readonly validationBatchSize?: number;
  /** Validate every n epochs (default 1); the last epoch always validates. */
  readonly validationEvery?: number;
  /** Shuffle in-memory data each epoch with the seeded PRNG (default `true`). */
  readonly shuffle?: boolean;
  /** Drop the last partial batch of in-memory data (default `false`, as Keras). */
  readonly dropLast?: boolean;
  /** Batches per epoch: required for endless streams, a cap otherwise. */
  readonly stepsPerEpoch?: number;
  /** Accumulate gradients over this many batches per optimizer update (default 1). */
  readonly accumulateBatches?: number;
  readonly initialEpoch?: number;
  /** Train on only this many batches per epoch (an integer), or this fraction of them (0 < f < 1). */
  readonly limitBatches?: number;
  /** Validate on only this many batches (integer) or this fraction of them. */
  readonly limitValidationBatches?: number;
  /** Debug aid: train (and validate) on the same first n batches every epoch, unshuffled. */
  readonly overfitBatches?: number;
  /** Stops the fit gracefully after the current step when aborted. */
  readonly signal?: AbortSignal;
  /** Stop gracefully on SIGINT/SIGTERM (a second signal exits at once). Default `true`. */
  readonly handleSignals?: boolean;
  /** Where `control.requestCheckpoint()` writes (`<dir>/epoch-E-step-S`, with `latest.json`). */
  readonly checkpointDir?: string;
  /** Value checks (NaN/Inf, label ranges) cost a device read: in-memory data is checked once; streams on their first epoch (`'first-epoch'`, default), `'always'`, or `'never'`. */
  readonly checkData?: 'first-epoch' | 'always' | 'never';
  /** Resume from a checkpoint directory (or a directory with `latest.json`). Same as {@link Trainer.resume}. */
  readonly resumeFrom?: string;
  /**
   * Return to the event loop at least this often (ms) so that timers, I/O and signal handlers run during a fit: with
   * the synchronous cpu/wasm kernels and in-memory data a fit would otherwise never leave the microtask queue (SIGINT
   * would not be seen until it ended). Default 50; `0` yields at every boundary.
   */
  readonly yieldEveryMs?: number;
}

export interface NormalisedFitOptions extends FitOptions {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly accumulateBatches: number;
  readonly initialEpoch: number;
  readonly validationEvery: number;
  readonly handleSignals: boolean;
  readonly checkData: 'first-epoch' | 'always' | 'never';
  readonly yieldEveryMs: number;
}

export function normaliseFitOptions(options: FitOptions): NormalisedFitOptions {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError('options', 'fit(data, options) needs options, at least { epochs }.');
  assertPositiveInteger(options.epochs, 'options.epochs', 'It is the index of the last epoch, exclusive (Keras semantics).');
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  assertPositiveInteger(batchSize, 'options.batchSize', 'Use a batch size of at least 1, e.g. 32.');
  const initialEpoch = options.initialEpoch ?? 0;
  assertNonNegativeInteger(initialEpoch, 'options.initialEpoch');
  if (initialEpoch >= options.epochs && !options.resumeFrom) {
    throw new FitstreamInputError('options.initialEpoch', `is ${initialEpoch} but epochs is ${options.epochs}: nothing would train. epochs is the index of the last epoch (exclusive).`);
  }
  const accumulateBatches = options.accumulateBatches ?? 1;
  assertPositiveInteger(accumulateBatches, 'options.accumulateBatches');
  const validationEvery = options.validationEvery ?? 1;
  assertPositiveInteger(validationEvery, 'options.validationEvery');
  if (options.stepsPerEpoch !== undefined) assertPositiveInteger(options.stepsPerEpoch, 'options.stepsPerEpoch');
  if (options.overfitBatches !== undefined) assertPositiveInteger(options.overfitBatches, 'options.overfitBatches');
  if (options.validationBatchSize !== undefined) assertPositiveInteger(options.validationBatchSize, 'options.validationBatchSize');
  for (const key of ['limitBatches', 'limitValidationBatches'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && (v < 1 || Number.isInteger(v)))) {
      throw new FitstreamInputError(`options.${key}`, `must be a batch count (integer ≥ 1) or a fraction in (0, 1), got ${String(v)}.`);
    }
  }
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) throw new FitstreamInputError('options.yieldEveryMs', `must be a number of milliseconds ≥ 0, got ${String(yieldEveryMs)}.`);
  const checkData = options.checkData ?? 'first-epoch';
  if (!['first-epoch', 'always', 'never'].includes(checkData)) throw new FitstreamInputError('options.checkData', `must be 'first-epoch', 'always' or 'never', got ${String(checkData)}.`);
  return {
    ...options,
    batchSize,
    shuffle: options.shuffle ?? true,
    dropLast: options.dropLast ?? false,
    accumulateBatches,
    initialEpoch,
    validationEvery,
    handleSignals: options.handleSignals ?? true,
    checkData,
    yieldEveryMs,
  };
}

export function resolveLimit(limit: number | undefined, known: number | undefined, argument: string): number {
  if (limit === undefined) return known ?? Number.POSITIVE_INFINITY;
  if (limit >= 1) return known === undefined ? limit : Math.min(limit, known);
  if (known === undefined) throw new FitstreamInputError(`options.${argument}`, 'a fraction needs data of known length (in-memory tensors or stepsPerEpoch); pass a batch count instead.');
  return Math.max(1, Math.floor(known * limit));
}

export function effectiveBatches(known: number | undefined, opts: NormalisedFitOptions): number | undefined {
  if (opts.overfitBatches) return known === undefined ? opts.overfitBatches : Math.min(opts.overfitBatches, known);
  let n = known;
  if (opts.stepsPerEpoch !== undefined) n = n === undefined ? opts.stepsPerEpoch : Math.min(n, opts.stepsPerEpoch);
  if (opts.limitBatches !== undefined) n = resolveLimit(opts.limitBatches, n, 'limitBatches');
  return n === Number.POSITIVE_INFINITY ? undefined : n;
}
