import * as tf from '@tensorflow/tfjs';
import { backupAndRestore, earlyStopping, liveDashboard } from '@fitstream/callbacks';
import { createTrainer } from '@fitstream/core';
import { trainTestSplit } from '@fitstream/samplers';
import { appStatus } from './app-status.js';
import { buildModel, weightsChecksum } from './model.js';
import { CLASSES, SIZE, type Samples } from './shapes.js';

/** Where the demo run backs itself up: core's IndexedDB checkpoint store. */
export const BACKUP_DIR = 'indexeddb://fitstream-example/backup';

/** Options of {@link trainShapes}. */
export interface TrainShapesOptions {
  readonly samples: Samples;
  /** Seeds the split, the initial weights and the trainer (shuffling). */
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize?: number;
  /** Where the run backs itself up and resumes from (an `indexeddb://` location). */
  readonly backupDir: string;
  /** Where the live dashboard draws. */
  readonly dashboard: HTMLElement;
  /** Called after every epoch and at the end, to redraw the page. */
  readonly onUpdate: () => void;
  /** Where the trainer's and the plugins' log lines go. */
  readonly log: (line: string) => void;
}

/**
 * Fine-tunes the shape classifier on `samples` on the current backend: a seeded stratified split (80 % train, 20 %
 * validation), Adam, early stopping on the validation loss with the best weights restored, and a backup to IndexedDB
 * after every epoch — run it again after a reload and it continues from the last backup to the same final weights.
 * Progress goes to {@link appStatus}. Returns the trained model (the caller disposes it).
 *
 * @example
 * ```ts
 * const model = await trainShapes({ samples: demoShapes(7, 100), seed: 7, epochs: 12, backupDir: BACKUP_DIR, dashboard, onUpdate, log });
 * ```
 */
export async function trainShapes(options: TrainShapesOptions): Promise<tf.LayersModel> {
  const { samples, seed, epochs, backupDir, dashboard, onUpdate, log } = options;
  const status = appStatus();
  const n = samples.labels.length;
  const split = trainTestSplit(n, { testSize: 0.2, stratify: samples.labels, seed });
  const side = (indices: Int32Array) =>
    tf.tidy(() => {
      const at = tf.tensor1d(indices, 'int32');
      return { x: tf.gather(tf.tensor4d(samples.pixels, [n, SIZE, SIZE, 1]), at), y: tf.gather(tf.tensor1d(samples.labels, 'int32'), at) };
    });
  const train = side(split.train);
  const validation = side(split.test);
  status.trainSamples = split.train.length;
  status.validationSamples = split.test.length;

  const model = buildModel(seed, CLASSES.length);
  const trainer = createTrainer({
    model,
    optimizer: { name: 'adam', learningRate: 0.01 },
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    seed,
    backend: 'current',
    log,
  })
    .use(earlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true }))
    .use(backupAndRestore({ dir: backupDir }));

  // The live dashboard: loss and accuracy curves per step and per epoch, progress and ETA, and the confusion matrix
  // on the validation pictures at every epoch end.
  trainer.use(liveDashboard({ element: dashboard, title: 'Training', confusionMatrix: { data: validation, classes: CLASSES } }));

  let pageSteps = 0;
  const subscription = trainer.events$.subscribe((event) => {
    switch (event.type) {
      case 'fit:start':
        status.phase = 'training';
        status.epoch = event.initialEpoch;
        status.step = event.step;
        if (event.resumedFrom !== undefined) {
          status.resumedFrom = event.resumedFrom;
          status.initialEpoch = event.initialEpoch;
          log(`resumed from ${event.resumedFrom} at epoch ${event.initialEpoch + 1}, step ${event.step}`);
        }
        break;
      case 'step:end':
        pageSteps++;
        status.step = event.step;
        break;
      case 'epoch:end': {
        const m = event.metrics as Record<string, number | undefined>;
        status.epoch = event.epoch + 1;
        status.rows.push({ epoch: event.epoch + 1, loss: m['loss'] ?? NaN, accuracy: m['accuracy'] ?? NaN, valLoss: m['val_loss'] ?? NaN, valAccuracy: m['val_accuracy'] ?? NaN });
        onUpdate();
        break;
      }
      case 'backupAndRestore:saved':
        // Backups are written at epoch ends: the run continues at epoch index `epoch`, so `epoch` epochs are complete.
        status.backups.push(event.epoch);
        break;
      default:
        break;
    }
  });

  const started = performance.now();
  try {
    const result = await trainer.fit(train, { epochs, batchSize: options.batchSize ?? 32, validation });
    status.fitMs = Math.round(performance.now() - started);
    status.stepsPerSecond = +((pageSteps * 1000) / status.fitMs).toFixed(1);
    const logs = result.history.logs as Record<string, readonly number[] | undefined>;
    status.history = logs as Record<string, readonly number[]>;
    // The whole run's table, epochs before a resume included (the history comes back from the backup).
    const at = (name: string, i: number) => logs[name]?.[i] ?? NaN;
    status.rows = result.history.epochs.map((epoch, i) => ({ epoch: epoch + 1, loss: at('loss', i), accuracy: at('accuracy', i), valLoss: at('val_loss', i), valAccuracy: at('val_accuracy', i) }));
    status.endReason = result.reason;
    status.stopReason = result.stopReason;
    const { accuracy, confusion } = await evaluate(model, validation);
    status.validationAccuracy = accuracy;
    status.confusion = confusion;
    status.checksum = await weightsChecksum(model);
    status.phase = 'done';
    onUpdate();
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    subscription.unsubscribe();
    trainer.dispose();
    tf.dispose([train.x, train.y, validation.x, validation.y]);
  }
}

/** Accuracy and confusion matrix (rows: true class, columns: predicted) of `model` on `data`. */
async function evaluate(model: tf.LayersModel, data: { x: tf.Tensor; y: tf.Tensor }): Promise<{ accuracy: number; confusion: number[][] }> {
  const predicted = tf.tidy(() => (model.predict(data.x) as tf.Tensor).argMax(-1));
  const [p, y] = await Promise.all([predicted.data(), data.y.data()]);
  predicted.dispose();
  const confusion = CLASSES.map(() => CLASSES.map(() => 0));
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    confusion[y[i]!]![p[i]!]!++;
    if (y[i] === p[i]) right++;
  }
  return { accuracy: right / y.length, confusion };
}
