import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, type FitOptions, type FitResult, type Trainer } from '@fitstream/core';
import { Observable } from 'rxjs';
import { prepareSplits, type Preprocessor, type Rows } from '../roles/preprocess.js';
import type { Label } from '../util/labels.js';
import type { Fold, Splitter } from './splitter.js';

/** What the per-fold factory is told. */
export interface FoldInfo {
  /** Position in the whole run, `0 … nSplits()-1`. */
  readonly index: number;
  readonly fold: number;
  readonly repeat: number;
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/** What the factory returns: a fresh trainer, and optionally the model to dispose after the fold. */
export type FoldTrainer<M extends string> = Trainer<M> | { readonly trainer: Trainer<M>; readonly model?: { dispose(): unknown } };

/** Options of {@link crossValidate}. */
export interface CrossValidateOptions<M extends string> {
  /** All rows, in memory. */
  readonly data: Rows;
  readonly splitter: Splitter;
  /** Labels for stratified splitters (default: read from `data.y` — argmax of one-hot rows, or sparse labels). */
  readonly labels?: ArrayLike<Label>;
  /** Groups for {@link groupKFold}. */
  readonly groups?: ArrayLike<Label>;
  /** Fitted per fold on that fold's training rows only, then applied to its training and test rows. */
  readonly preprocessors?: readonly Preprocessor[];
  /** Builds a fresh model and trainer for each fold (never reuse one: weights would leak across folds). */
  readonly build: (fold: FoldInfo) => FoldTrainer<M> | Promise<FoldTrainer<M>>;
  /** Fit options for every fold. */
  readonly fit: Omit<FitOptions, 'validation' | 'resumeFrom'>;
  /** Also pass the fold's test rows as `validation` to `fit`, for `val_*` curves (default `false`). */
  readonly validateOnTest?: boolean;
  /** Batch size for the test evaluation (default: `fit.batchSize`, else 32). */
  readonly evaluateBatchSize?: number;
}

/** One fold's result: test-set loss and metrics of the model trained on that fold's training rows. */
export interface FoldResult {
  readonly type: 'fold';
  readonly index: number;
  readonly fold: number;
  readonly repeat: number;
  readonly trainSize: number;
  readonly testSize: number;
  /** Test loss and metrics (`loss`, `accuracy`, …). */
  readonly metrics: Readonly<Record<string, number>>;
  readonly fitResult: FitResult<string>;
}

/** Mean ± standard deviation (population, numpy's default `ddof=0`) of each metric over the folds. */
export interface CrossValidationSummary {
  readonly type: 'summary';
  readonly folds: number;
  readonly mean: Readonly<Record<string, number>>;
  readonly std: Readonly<Record<string, number>>;
  /** Per-metric values in fold order. */
  readonly values: Readonly<Record<string, readonly number[]>>;
}

/** What {@link crossValidate} emits: one `fold` per fold, then one `summary`. */
export type CrossValidationEvent = FoldResult | CrossValidationSummary;

/** Class labels of targets: argmax of one-hot rows, or the values of sparse labels. */
export function labelsOf(y: tf.Tensor): Int32Array {
  return tf.tidy(() => {
    const labels = y.rank >= 2 && (y.shape[y.rank - 1] ?? 1) > 1 ? tf.argMax(y, -1) : y.reshape([y.shape[0] ?? 0]);
    return labels.toInt().dataSync() as Int32Array;
  });
}

/** Mean and population standard deviation per metric. */
export function summarize(results: readonly Pick<FoldResult, 'metrics'>[]): CrossValidationSummary {
  const values: Record<string, number[]> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.metrics)) (values[k] ??= []).push(v);
  const mean: Record<string, number> = {};
  const std: Record<string, number> = {};
  for (const [k, vs] of Object.entries(values)) {
    const m = vs.reduce((a, b) => a + b, 0) / vs.length;
    mean[k] = m;
    std[k] = Math.sqrt(vs.reduce((a, b) => a + (b - m) ** 2, 0) / vs.length);
  }
  return { type: 'summary', folds: results.length, mean, std, values };
}

/**
 * Formats a summary as `metric mean ± std` lines.
 *
 * @example
 * ```ts
 * formatSummary(summary); // 'accuracy 0.953 ± 0.027\nloss 0.142 ± 0.041'
 * ```
 */
export function formatSummary(summary: CrossValidationSummary, digits = 3): string {
  return Object.keys(summary.mean)
    .map((k) => `${k} ${summary.mean[k]!.toFixed(digits)} ± ${summary.std[k]!.toFixed(digits)}`)
    .join('\n');
}

/**
 * Cross-validation with a fresh trainer per fold. For each fold of `splitter`: gathers the rows, fits the
 * preprocessors on the training rows only, builds a model and trainer with `build`, fits, evaluates on the test rows,
 * disposes everything it made (and the trainer, and `model` if returned), and emits a {@link FoldResult}; after the last
 * fold it emits the {@link CrossValidationSummary}. Cold and sequential: nothing runs until subscribed, and
 * unsubscribing stops the running fit at the next step.
 *
 * @example
 * ```ts
 * const events = await lastValueFrom(crossValidate({
 *   data: { x, y }, splitter: stratifiedKFold({ nSplits: 5, shuffle: true, seed: 0 }), preprocessors: [standardScaler()],
 *   build: () => createTrainer({ model: buildModel(), optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: 1, log: null }),
 *   fit: { epochs: 50, batchSize: 16 },
 * }).pipe(toArray()));
 * ```
 */
export function crossValidate<M extends string>(options: CrossValidateOptions<M>): Observable<CrossValidationEvent> {
  const { data, splitter, build, fit } = options;
  if (!data || !(data.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) throw new FitstreamInputError('options.data', 'must be { x, y } tensors (first axis = samples).');
  if (!splitter || typeof splitter.split !== 'function') throw new FitstreamInputError('options.splitter', 'must be a splitter such as stratifiedKFold({ nSplits: 5 }).');
  if (typeof build !== 'function') throw new FitstreamInputError('options.build', 'must be a function returning a fresh trainer for each fold.');
  if (!fit || typeof fit.epochs !== 'number') throw new FitstreamInputError('options.fit', 'must hold the fit options, at least { epochs }.');
  return new Observable<CrossValidationEvent>((subscriber) => {
    const abort = new AbortController();
    const run = async () => {
      const n = data.y.shape[0] ?? 0;
      const y = options.labels ?? labelsOf(data.y);
      const folds: Fold[] = [...splitter.split({ n, y, ...(options.groups !== undefined ? { groups: options.groups } : {}) })];
      const results: FoldResult[] = [];
      for (const [index, f] of folds.entries()) {
        if (abort.signal.aborted) return;
        const prepared = prepareSplits(data, { train: f.train, test: f.test }, { preprocessors: options.preprocessors ?? [] });
        let built: FoldTrainer<M> | undefined;
        try {
          built = await build({ index, fold: f.fold, repeat: f.repeat, train: f.train, test: f.test });
          const trainer = 'trainer' in built ? built.trainer : built;
          const signal = fit.signal ? AbortSignal.any([fit.signal, abort.signal]) : abort.signal;
          const fitResult = await trainer.fit(prepared.train, { ...fit, signal, ...(options.validateOnTest ? { validation: prepared.test! } : {}) });
          if (abort.signal.aborted) return;
          const logs = await trainer.evaluate(prepared.test!, { batchSize: options.evaluateBatchSize ?? fit.batchSize ?? 32 });
          const metrics: Record<string, number> = {};
          for (const [k, v] of Object.entries(logs)) if (k !== 'samples') metrics[k] = v as number;
          const result: FoldResult = { type: 'fold', index, fold: f.fold, repeat: f.repeat, trainSize: f.train.length, testSize: f.test.length, metrics, fitResult: fitResult as FitResult<string> };
          results.push(result);
          subscriber.next(result);
        } finally {
          prepared.dispose();
          if (built) {
            const trainer = 'trainer' in built ? built.trainer : built;
            trainer.dispose();
            if ('trainer' in built) built.model?.dispose();
          }
        }
      }
      subscriber.next(summarize(results));
      subscriber.complete();
    };
    run().catch((error: unknown) => subscriber.error(error));
    return () => abort.abort('crossValidate unsubscribed');
  });
}
