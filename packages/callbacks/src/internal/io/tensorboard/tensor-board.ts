import { join, resolve as resolvePath } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GradientTransform, provide, type Plugin } from '@fitstream/core';
import { createLogger } from '../logger.js';
import { readResumePosition } from '../resume-truncation.js';
import { continueEventFile } from './resume.js';
import { EventFileWriter } from './tfevents.js';
import { inputError } from '../../input-error.js';

/** Options of {@link tensorBoard}; Keras `TensorBoard` names where they exist. */
export interface TensorBoardOptions {
  /** Run directory: scalars and weight histograms go to `<logDir>/train`, validation scalars to `<logDir>/validation`. */
  readonly logDir: string;
  /**
   * `'epoch'` (default): scalars once per epoch (`epoch_loss` …, step = epoch). A number n: also the batch loss and
   * metrics every n optimizer steps (`batch_loss` …, step = global step) — one device read per n steps.
   */
  readonly updateFreq?: 'epoch' | number;
  /** Weight histograms every n epochs (Keras `histogram_freq`; 0, the default, disables). */
  readonly histogramFreq?: number;
  /**
   * Gradient histograms every n optimizer steps (0, the default, disables), taken by a gradient transform that observes
   * the gradients after accumulation and all-reduce (stage `post-reduce`) without changing them. One read per n steps.
   */
  readonly gradientFreq?: number;
  /** Buckets per histogram (default 30). */
  readonly buckets?: number;
}

/** The plugin {@link tensorBoard} returns. */
export interface TensorBoard<M extends string = string> extends Plugin<M> {
  readonly logDir: string;
  /** Event files written by the last fit (a resumed fit's are the continued ones). */
  readonly files: readonly string[];
}

function nonNegativeInt(v: number | undefined, what: string): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0) throw inputError(`tensorBoard: ${what} must be an integer ≥ 0, got ${String(v)}.`);
  return v;
}

/**
 * Writes TensorBoard event files in pure TypeScript (no tfjs-node): epoch scalars for training and validation (one
 * chart per metric with both runs, as Keras), the learning rate, batch scalars every n steps, weight histograms every
 * n epochs and gradient histograms every n steps. Records are buffered and flushed at each epoch and fit end. Built on
 * {@link createLogger} (its `'epoch'` records, or `'step'` records with `updateFreq: n`).
 *
 * A fit resumed from a checkpoint continues the newest event file of each run (`train`, `validation`) under its name
 * instead of starting another: the file is first cut back to the records written up to the checkpoint (and a record
 * torn by a kill) and rewritten atomically, so the finished files equal the uninterrupted run's except for wall times
 * (and `epoch_steps_per_second`) — TensorBoard shows no duplicated or missing points.
 *
 * @example
 * ```ts
 * trainer.use(tensorBoard({ logDir: 'runs/mnist/tb', updateFreq: 50, histogramFreq: 1, gradientFreq: 100 }));
 * // tensorboard --logdir runs/mnist/tb
 * ```
 */
export function tensorBoard<M extends string = string>(options: TensorBoardOptions): TensorBoard<M> {
  if (!options || typeof options.logDir !== 'string' || options.logDir.length === 0) throw inputError('tensorBoard: options.logDir is required.');
  const logDir = resolvePath(options.logDir);
  const updateFreq = options.updateFreq ?? 'epoch';
  if (updateFreq !== 'epoch' && !(Number.isInteger(updateFreq) && updateFreq >= 1)) throw inputError(`tensorBoard: updateFreq must be 'epoch' or an integer ≥ 1, got ${String(updateFreq)}.`);
  const histogramFreq = nonNegativeInt(options.histogramFreq, 'histogramFreq');
  const gradientFreq = nonNegativeInt(options.gradientFreq, 'gradientFreq');
  const buckets = options.buckets ?? 30;
  // The last fit's writers: their paths are known once a resumed fit found the files it continues.
  let writers: readonly EventFileWriter[] = [];
  // Set while a fit runs; the gradient transform is registered once per trainer and is idle between fits.
  let train: EventFileWriter | undefined;

  const observer: GradientTransform = {
    name: 'tensorboard-gradients',
    stage: 'post-reduce',
    transform: (grads, ctx) => {
      const step = ctx.step + 1;
      if (train && gradientFreq > 0 && step % gradientFreq === 0) {
        for (const [name, g] of Object.entries(grads)) train.histogram(`gradients/${name}`, g.dataSync(), step, buckets);
      }
      return grads; // observed, never changed
    },
  };

  let validation: EventFileWriter | undefined;
  const flushAll = () => Promise.all([train?.flush(), validation?.flush()]);

  const logger = createLogger<M>({
    name: 'tensorboard',
    // Batch scalars need the step records, with their metrics read every updateFreq steps.
    records: updateFreq === 'epoch' ? 'epoch' : 'step',
    readBatchMetricsEvery: updateFreq === 'epoch' ? 0 : updateFreq,
    timeoutMs: 10 * 60_000,
    write: (record, { control }) => {
      const names = control.metricNames as readonly string[];
      switch (record.type) {
        case 'fit:start': {
          // A resumed fit continues each run's newest file, cut back to the checkpoint; the writers hold their
          // records until it is ready (the loop waits for it at its next boundary).
          const at = record.resumedFrom === undefined ? undefined : readResumePosition(record.resumedFrom);
          const writer = (run: string) => {
            const dir = join(logDir, run);
            return new EventFileWriter(dir, at ? { continuing: at.then((position) => continueEventFile(dir, position)) } : {});
          };
          train = writer('train');
          validation = writer('validation');
          writers = [train, validation];
          // Every fit leaves its files from its start, so that a fit resumed later finds the file it continues.
          return flushAll();
        }
        case 'step:end':
          if (train && updateFreq !== 'epoch' && record.step % updateFreq === 0) {
            const metrics = record.metrics as Readonly<Record<string, number>>;
            for (const n of names) train.scalar(`batch_${n}`, metrics[n]!, record.step);
            train.scalar('batch_learning_rate', record.learningRate, record.step);
          }
          return;
        case 'epoch:end': {
          if (!train || !validation) return;
          const logs = record.metrics as unknown as Readonly<Record<string, number | undefined>>;
          for (const n of names) {
            train.scalar(`epoch_${n}`, logs[n]!, record.epoch);
            const v = logs[`val_${n}`];
            if (v !== undefined) validation.scalar(`epoch_${n}`, v, record.epoch);
          }
          train.scalar('epoch_learning_rate', record.learningRate, record.epoch);
          train.scalar('epoch_steps_per_second', record.durationMs > 0 ? (1000 * record.batches) / record.durationMs : 0, record.epoch);
          if (histogramFreq > 0 && record.epoch % histogramFreq === 0) {
            // Called within the epoch:end event (nothing of this logger is pending then): the epoch's weights.
            const weights = control.snapshotWeights();
            try {
              for (const [name, w] of weights) train.histogram(name, w.dataSync(), record.epoch, buckets);
            } finally {
              tf.dispose([...weights.values()]);
            }
          }
          return; // written by flush, right after this record
        }
        default:
          return;
      }
    },
    flush: () => flushAll(),
    close: () => {
      const closing = [train, validation].filter((w) => w !== undefined).map((w) => w.close());
      train = undefined;
      validation = undefined;
      return Promise.all(closing);
    },
  });

  return {
    ...logger,
    logDir,
    get files() {
      return writers.map((w) => w.path);
    },
    register: (container) => {
      if (gradientFreq > 0) provide(container, GradientTransform, observer);
    },
  };
}
