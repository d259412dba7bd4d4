import * as tf from '@tensorflow/tfjs';
import { isTensorData, type DataSource } from './data.js';
import { FitstreamInputError, assertNonNegativeInteger, assertPositiveInteger } from '@fitstream/util';

/** Batch size when neither the fit nor the data says. */
export const DEFAULT_BATCH = 32;

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Index of the last epoch, exclusive (Keras semantics: with `initialEpoch: 3, epochs: 5` epochs 3 and 4 run). */
  readonly epochs: number;
  /** Batch size for in-memory data (default 32); streams bring their own batches. */
  readonly batchSize?: number;
  /** Validation data: `{ x, y }` tensors, a `tf.data.Dataset` or a stream of batches (see {@link Trainer.fit} for tfjs' forms). */
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
  /**
   * Validate on only this many batches (an integer, tfjs' name), or this fraction of them (0 < f < 1, data of known
   * length). Required when the validation stream's length is unknown (a generator, an async iterable, a
   * `tf.data.Dataset` whose `size` is `null` or `Infinity`): an endless one would otherwise never end.
   */
  readonly validationBatches?: number;
  /** The former name of {@link FitOptions.validationBatches}, kept as an alias (same meaning; give one of them). */
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

/**
 * Every name of {@link FitOptions}, checked against the interface at compile time: `fit` refuses any other name with a
 * did-you-mean (a misspelt option is never silently ignored). Add a new option here too.
 */
export const FIT_OPTION_NAMES = Object.keys({
  epochs: true,
  batchSize: true,
  validation: true,
  validationBatchSize: true,
  validationEvery: true,
  shuffle: true,
  dropLast: true,
  stepsPerEpoch: true,
  accumulateBatches: true,
  initialEpoch: true,
  limitBatches: true,
  validationBatches: true,
  limitValidationBatches: true,
  overfitBatches: true,
  signal: true,
  handleSignals: true,
  checkpointDir: true,
  checkData: true,
  resumeFrom: true,
  yieldEveryMs: true,
} satisfies { readonly [K in keyof Required<FitOptions>]: true }) as readonly (keyof FitOptions)[];

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
  if (options.validationBatches !== undefined && options.limitValidationBatches !== undefined && options.validationBatches !== options.limitValidationBatches) {
    throw new FitstreamInputError('options.validationBatches', `is ${options.validationBatches} but limitValidationBatches (its former name) is ${options.limitValidationBatches}; give only validationBatches.`);
  }
  for (const key of ['limitBatches', 'validationBatches', 'limitValidationBatches'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && (v < 1 || Number.isInteger(v)))) {
      throw new FitstreamInputError(`options.${key}`, `must be a batch count (integer ≥ 1) or a fraction in (0, 1), got ${String(v)}.`);
    }
  }
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) throw new FitstreamInputError('options.yieldEveryMs', `must be a number of milliseconds ≥ 0, got ${String(yieldEveryMs)}.`);
  const validationBatches = options.validationBatches ?? options.limitValidationBatches;
  if (options.validation !== undefined && validationBatches === undefined && !options.overfitBatches) assertFiniteValidation(options.validation);
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
    // One option under two names: the loop reads the old one.
    ...(validationBatches === undefined ? {} : { validationBatches, limitValidationBatches: validationBatches }),
  };
}

/**
 * Validation runs to the end of its data, so data of unknown length needs `validationBatches`: after an epoch we
 * could not tell an endless stream from a long one, so the limit is asked for up front, before anything trains.
 */
function assertFiniteValidation(validation: DataSource): void {
  if (isTensorData(validation) || Array.isArray(validation)) return;
  let what: string;
  if (validation instanceof tf.data.Dataset) {
    const size = validation.size as number | null;
    if (typeof size === 'number' && Number.isFinite(size)) return;
    what = size === null ? 'a tf.data.Dataset of unknown size (dataset.size is null, e.g. tf.data.generator)' : 'an endless tf.data.Dataset (dataset.size is Infinity, e.g. .repeat())';
  } else if (typeof validation === 'function') {
    what = 'a function returning a stream (its length is unknown until it ends)';
  } else {
    what = 'a stream of unknown length (an iterator or async iterable)';
  }
  throw new FitstreamInputError('options.validationBatches', `is required: options.validation is ${what}, and an endless one would never finish validating. Pass validationBatches: N (the batches to validate on each time), or validation data of known length (tensors, an array of batches, a finite tf.data.Dataset).`);
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
