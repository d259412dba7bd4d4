import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Random,
  createTrainer,
  fileSystem,
  findCheckpoint,
  markLatest,
  ofType,
  selectBackend,
  withSeed,
  type Plugin,
} from '@fitstream/core';
import { loadIris, stratifiedSplit } from '@fitstream/datasets';
import { bestOf } from '../run/best.js';
import { environmentRecord } from '../run/environment.js';
import { formatDuration, formatNumber } from '../run/format.js';
import { EventLog, MetricsCsv, createRunDirectory, writeJson } from '../run/run-directory.js';
import type { Recipe, TrainFlags, TrainSummary, Io } from './recipe.js';

const TEST_FRACTION = 0.2;
const HIDDEN_UNITS = 16;
const METRIC_COLUMNS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;

/** The MLP 4-16-3, its initial weights drawn from the seed. */
function buildModel(random: Random): tf.Sequential {
  return withSeed(random, () =>
    tf.sequential({
      name: 'iris_mlp',
      layers: [
        tf.layers.dense({ name: 'hidden', inputShape: [4], units: HIDDEN_UNITS, activation: 'relu' }),
        tf.layers.dense({ name: 'output', units: 3, activation: 'softmax' }),
      ],
    }),
  );
}

/** Standardises features with the mean and (population) standard deviation of the training rows only. */
function standardiser(xTrain: tf.Tensor2D): { mean: number[]; std: number[]; apply(x: tf.Tensor2D): tf.Tensor2D } {
  const [mean, std] = tf.tidy(() => {
    const { mean: m, variance } = tf.moments(xTrain, 0);
    return [Array.from(m.dataSync()), Array.from(tf.sqrt(variance).dataSync()).map((s) => (s > 0 ? s : 1))];
  });
  return {
    mean,
    std,
    apply: (x) => tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(mean)), tf.tensor1d(std))),
  };
}

/** Saves the final checkpoint when the last epoch ends (or when the fit is stopped), and points `latest.json` at it. */
function finalCheckpoint(dir: string, lastEpoch: number): Plugin<'accuracy'> {
  return {
    name: 'fitstream-cli/final-checkpoint',
    attach: (events$, control) =>
      events$.pipe(ofType('epoch:end')).subscribe((e) => {
        if (e.epoch !== lastEpoch && !control.stopRequested) return;
        const path = join(dir, `epoch-${String(e.epoch + 1).padStart(4, '0')}-step-${String(e.step).padStart(8, '0')}`);
        control.await(control.saveCheckpoint(path, 'final').then((info) => markLatest(info.path)));
      }),
  };
}

/** `fitstream train iris`. */
export const iris: Recipe = {
  async train(flags: TrainFlags, io: Io): Promise<TrainSummary> {
    const { epochs, batchSize, learningRate } = flags;
    const log = flags.json ? io.err : io.out;

    // The backend first: every tensor below lives on it. selectBackend logs its one line to stderr.
    const selection = await selectBackend({ prefer: flags.backend, log: io.err });
    const runDir = await createRunDirectory(flags.out, 'iris');
    const environment = await environmentRecord(selection, flags.backend);

    const data = await loadIris();
    const split = stratifiedSplit(await data.y.data(), { testFraction: TEST_FRACTION, seed: flags.seed });
    const random = Random.fromSeed(flags.seed);
    const xTrainRaw = tf.gather(data.x, split.train) as tf.Tensor2D;
    const scale = standardiser(xTrainRaw);
    const train = { x: scale.apply(xTrainRaw), y: tf.gather(data.y, split.train) };
    const xTestRaw = tf.gather(data.x, split.test) as tf.Tensor2D;
    const validation = { x: scale.apply(xTestRaw), y: tf.gather(data.y, split.test) };
    tf.dispose([xTrainRaw, xTestRaw, data.x, data.y]);

    const model = buildModel(random.derive('model-init'));
    const checkpoints = join(runDir, 'checkpoints');
    const config = {
      recipe: 'iris',
      seed: flags.seed,
      epochs,
      batchSize,
      learningRate,
      backend: flags.backend,
      out: flags.out,
      json: flags.json,
      dataset: { ...data.metadata, cache: data.cache },
      split: { kind: 'stratified', testFraction: TEST_FRACTION, seed: flags.seed, train: split.train.length, test: split.test.length },
      preprocessing: { standardise: { statisticsFrom: 'train split', mean: scale.mean, std: scale.std } },
      model: { name: model.name, layers: [4, HIDDEN_UNITS, 3], activations: ['relu', 'softmax'], initialiser: 'glorotUniform (tfjs default), seeded', parameters: model.countParams() },
      optimizer: { name: 'adam', learningRate },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    };
    await writeJson(join(runDir, 'config.json'), config);
    await writeJson(join(runDir, 'environment.json'), environment);

    const trainer = createTrainer({
      model,
      optimizer: { name: 'adam', learningRate },
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
      seed: flags.seed,
      backend: flags.backend, // the same preference: selectBackend's memo answers without a second log line
      log: io.err,
    }).use(finalCheckpoint(checkpoints, epochs - 1));

    const events = new EventLog(join(runDir, 'events.jsonl'));
    const csv = new MetricsCsv(join(runDir, 'metrics.csv'), METRIC_COLUMNS);
    const width = String(epochs).length;
    const subscription = trainer.events$.subscribe((e) => {
      events.write(e);
      if (e.type === 'epoch:end') {
        void csv.append(e.epoch, e.metrics, e.learningRate, e.durationMs);
        const cells = METRIC_COLUMNS.filter((c) => e.metrics[c] !== undefined).map((c) => `${c} ${formatNumber(e.metrics[c]!)}`);
        log(`epoch ${String(e.epoch + 1).padStart(width)}/${epochs}  ${cells.join('  ')}  ${formatDuration(e.durationMs)}`);
      }
    });

    try {
      const result = await trainer.fit(train, { epochs, batchSize, validation });
      await csv.flushed();

      // The checkpoint must load with stock tfjs and predict exactly what the trained model predicts.
      const saved = await findCheckpoint(checkpoints);
      if (!saved) throw new Error(`no checkpoint was written under ${checkpoints}`);
      const restored = await tf.loadLayersModel(fileSystem(saved));
      const mismatch = tf.tidy(() => tf.max(tf.abs(tf.sub(restored.predict(validation.x) as tf.Tensor, model.predict(validation.x) as tf.Tensor))).dataSync()[0]!);
      restored.dispose();
      if (mismatch !== 0) throw new Error(`the checkpoint at ${saved} does not reproduce the trained model (max difference ${mismatch})`);

      const logs = result.history.logs as Readonly<Record<string, readonly number[]>>;
      const summary: TrainSummary = {
        runDir,
        backend: result.backend,
        epochs: result.epochs,
        final: { ...(result.final ?? {}) },
        best: bestOf(logs),
      };
      const bestEpoch = (logs['val_accuracy'] ?? []).indexOf(summary.best['val_accuracy'] ?? Number.NaN);
      log(
        `done: ${result.reason}, ${result.epochs} epochs on ${result.backend}; final val_accuracy ${formatNumber(summary.final['val_accuracy'] ?? Number.NaN)}` +
          (bestEpoch >= 0 ? `, best ${formatNumber(summary.best['val_accuracy']!)} (epoch ${bestEpoch + 1})` : ''),
      );
      log(`run directory: ${runDir}`);
      log(`checkpoint: ${saved} (loads with tf.loadLayersModel(fileSystem(dir)))`);
      return summary;
    } finally {
      subscription.unsubscribe();
      await events.close();
      trainer.dispose();
      model.dispose();
      tf.dispose([train.x, train.y, validation.x, validation.y]);
    }
  },
};
