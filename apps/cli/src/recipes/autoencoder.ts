import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { Random, createTrainer, withSeed } from '@fitstream/core';
import { extractFeatures, type ExtractedFeatures } from '@fitstream/transfer';
import { cacheDirectory, loadMnist, stratifiedSplit } from '@fitstream/datasets';
import { z } from 'zod';
import { configSchema, type RunConfig } from '../config/schema.js';
import { EXIT } from '../exit.js';
import { experimentRecipeDefaults, interruptedOrThrow, startExperiment, throwIfInterrupted } from '../run/experiment.js';
import { fitSummary } from '../run/fit-summary.js';
import { formatNumber } from '../run/format.js';
import { callbackPlugins } from '../run/plugins.js';
import { writeRunReport } from '../run/report.js';
import { writeJson } from '../run/run-directory.js';
import { fitOptions } from '../run/fit-options.js';
import type { ExperimentRecipe, Io, TensorPair } from './recipe.js';
import { gatherPair, holdoutRecord } from './tabular.js';

const PIXELS = 28 * 28;

const data = z.strictObject({ subset: z.int().min(100).max(10_000), validationFraction: z.number().gt(0).lt(1), cache: z.boolean() });
const model = z.strictObject({
  /** Encoder layer widths before the code; the decoder mirrors them. */
  hidden: z.array(z.int().min(1)),
  /** Width of the code layer (`code`): the embedding the downstream model gets. */
  code: z.int().min(1),
});
const schema = configSchema('autoencoder', [], data, model)
  .omit({ cv: true, lrFinder: true })
  .extend({
    /** The downstream classifier trained on the embeddings (and, as a baseline, on the raw pixels). */
    head: z.strictObject({ hidden: z.array(z.int().min(1)), epochs: z.int().min(1), lr: z.number().positive(), baseline: z.boolean() }),
    /** Where the embeddings are cached (`'auto'`: the datasets cache directory; `false`: no cache). */
    features: z.strictObject({ cacheDir: z.union([z.literal('auto'), z.literal(false), z.string().min(1)]) }),
  });

export type AutoencoderConfig = z.infer<typeof schema>;

/** The dense autoencoder: pixels → hidden… → code → …hidden → pixels (sigmoid), every layer named. */
export function buildAutoencoder(hidden: readonly number[], code: number, seed: number): tf.LayersModel {
  return withSeed(Random.fromSeed(seed).derive('autoencoder-init'), () =>
    tf.sequential({
      name: 'digits_autoencoder',
      layers: [
        tf.layers.flatten({ name: 'pixels', inputShape: [28, 28, 1] }),
        ...hidden.map((units, i) => tf.layers.dense({ name: `encoder${i + 1}`, units, activation: 'relu' })),
        tf.layers.dense({ name: 'code', units: code, activation: 'relu' }),
        ...[...hidden].reverse().map((units, i) => tf.layers.dense({ name: `decoder${i + 1}`, units, activation: 'relu' })),
        tf.layers.dense({ name: 'reconstruction', units: PIXELS, activation: 'sigmoid' }),
      ],
    }),
  );
}

function classifier(inputs: number, hidden: readonly number[], seed: number, name: string): tf.LayersModel {
  return withSeed(Random.fromSeed(seed).derive('head-init'), () =>
    tf.sequential({
      name,
      layers: [
        ...hidden.map((units, i) => tf.layers.dense({ name: `hidden${i + 1}`, ...(i === 0 ? { inputShape: [inputs] } : {}), units, activation: 'relu' })),
        tf.layers.dense({ name: 'digit', ...(hidden.length === 0 ? { inputShape: [inputs] } : {}), units: 10, activation: 'softmax' }),
      ],
    }),
  );
}

/** Trains a classifier quietly on `train` and returns its accuracy on `validation`. */
async function trainHead(config: AutoencoderConfig, train: TensorPair, validation: TensorPair, name: string): Promise<{ accuracy: number; loss: number }> {
  const inputs = train.x.shape.slice(1).reduce((a, b) => a * b, 1);
  const flat = (t: tf.Tensor) => t.reshape([t.shape[0]!, inputs]);
  const [tx, vx] = [flat(train.x), flat(validation.x)];
  const head = classifier(inputs, config.head.hidden, config.seed, name);
  const trainer = createTrainer({ model: head, optimizer: { name: 'adam', learningRate: config.head.lr }, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], seed: config.seed, backend: 'current', log: null });
  try {
    const result = await trainer.fit({ x: tx, y: train.y }, { epochs: config.head.epochs, batchSize: config.batchSize, handleSignals: true, ...(config.fastDevRun === false ? {} : { limitBatches: 1, epochs: 1 }) });
    throwIfInterrupted(result);
    const logs = await trainer.evaluate({ x: vx, y: validation.y }, { batchSize: 512 });
    return { accuracy: logs.accuracy, loss: logs.loss };
  } finally {
    trainer.dispose();
    head.dispose();
    tf.dispose([tx, vx]);
  }
}

async function run(config: AutoencoderConfig, io: Io, options: { readonly json: boolean }) {
  const exp = await startExperiment(config, io, options.json);
  const runConfig = config as unknown as RunConfig; // the callbacks and fit sections are the shared ones
  const digits = await loadMnist({ subset: config.data.subset, cache: config.data.cache });
  const split = stratifiedSplit(digits.y.dataSync(), { testFraction: config.data.validationFraction, seed: config.seed });
  const train = gatherPair(digits.x, digits.y, split.train);
  const validation = gatherPair(digits.x, digits.y, split.test);
  tf.dispose([digits.x, digits.y]);
  await writeJson(exp.paths.data, holdoutRecord(digits, { kind: 'stratified', testFraction: config.data.validationFraction, seed: config.seed }, split, { pixels: 'byte / 255, as loaded' }));
  // The autoencoder learns to reproduce the images: targets are the flattened inputs (no labels used).
  const targets = (t: tf.Tensor) => t.reshape([t.shape[0]!, PIXELS]);
  const unsupervised = { train: { x: train.x, y: targets(train.x) }, validation: { x: validation.x, y: targets(validation.x) } };
  const autoencoder = buildAutoencoder(config.model.hidden, config.model.code, config.seed);
  const trainer = createTrainer({ model: autoencoder, optimizer: { name: config.optimizer, learningRate: config.lr }, loss: 'binaryCrossentropy', seed: config.seed, backend: config.backend, log: io.err });
  for (const plugin of callbackPlugins(runConfig, exp.runDir, exp.progress, io.err)) trainer.use(plugin);
  const owned: tf.Tensor[] = [train.x, train.y, validation.x, validation.y, unsupervised.train.y, unsupervised.validation.y];
  const extracted: ExtractedFeatures[] = [];
  try {
    exp.log(`autoencoder: ${split.train.length} training digits (labels unused), ${split.test.length} validation; ${[PIXELS, ...config.model.hidden, config.model.code, ...[...config.model.hidden].reverse(), PIXELS].join('-')}`);
    const result = await trainer.fit(unsupervised.train, fitOptions(runConfig, unsupervised.validation, exp.paths.checkpoints));
    throwIfInterrupted(result);
    await trainer.saveCheckpoint(exp.paths.model);

    // The encoder (inputs → `code`) embeds every digit once; the embeddings are cached under a key of its weights.
    const cacheDir = config.features.cacheDir === false ? undefined : config.features.cacheDir === 'auto' ? join(cacheDirectory(), 'features') : config.features.cacheDir;
    for (const x of [train.x, validation.x]) extracted.push(await extractFeatures(autoencoder, x, { upTo: 'code', batchSize: 512, ...(cacheDir ? { cacheDir } : {}) }));
    const [trainCodes, validationCodes] = extracted as [ExtractedFeatures, ExtractedFeatures];
    exp.log(`embeddings: ${trainCodes.features.shape.join('×')} and ${validationCodes.features.shape.join('×')} from layer "code" (cache: ${trainCodes.cache}${trainCodes.path ? `, ${trainCodes.path}` : ''})`);
    const embedded = await trainHead(config, { x: trainCodes.features, y: train.y }, { x: validationCodes.features, y: validation.y }, 'head_on_codes');
    const pixels = config.head.baseline ? await trainHead(config, train, validation, 'head_on_pixels') : undefined;

    const evaluation = {
      split: 'validation',
      samples: split.test.length,
      metrics: { reconstruction_loss: result.final?.['val_loss'] ?? Number.NaN, accuracy: embedded.accuracy, loss: embedded.loss, ...(pixels ? { pixels_accuracy: pixels.accuracy } : {}) },
    };
    await writeJson(exp.paths.evaluation, evaluation);
    await writeJson(join(exp.runDir, 'embeddings.json'), {
      layer: 'code',
      dimensions: config.model.code,
      cache: { train: trainCodes.cache, validation: validationCodes.cache, key: trainCodes.key, path: trainCodes.path ?? null },
      head: { hidden: config.head.hidden, epochs: config.head.epochs, accuracy: embedded.accuracy },
      ...(pixels ? { baseline: { inputs: 'raw pixels (784)', hidden: config.head.hidden, epochs: config.head.epochs, accuracy: pixels.accuracy } } : {}),
    });
    await writeRunReport(exp.runDir);
    const summary = {
      ...fitSummary(exp.runDir, result, { ...(result.final ?? {}), accuracy: embedded.accuracy, ...(pixels ? { pixels_accuracy: pixels.accuracy } : {}) }, evaluation.metrics),
      embeddings: { dimensions: config.model.code, cache: trainCodes.cache, accuracy: embedded.accuracy, ...(pixels ? { pixelsAccuracy: pixels.accuracy } : {}) },
    };
    exp.log(
      `done: autoencoder ${summary.reason} after ${summary.epochs} epochs on ${result.backend} (val reconstruction loss ${formatNumber(evaluation.metrics.reconstruction_loss)}); ` +
        `a head on the ${config.model.code}-dimensional codes: validation accuracy ${formatNumber(embedded.accuracy)}` +
        (pixels ? `; the same head on the 784 raw pixels: ${formatNumber(pixels.accuracy)}` : ''),
    );
    exp.log(`run directory: ${exp.runDir}`);
    return { code: EXIT.ok, summary };
  } catch (error) {
    return interruptedOrThrow(error, exp.runDir, io);
  } finally {
    trainer.dispose();
    autoencoder.dispose();
    tf.dispose([...owned, ...extracted.map((e) => e.features)]);
  }
}

/**
 * `fitstream train autoencoder`: representation learning on the MNIST digits. A dense autoencoder learns to reproduce
 * the images without labels; its encoder (up to the `code` layer) then embeds every digit once — cached on disk under a
 * key of the encoder's weights and the images (`extractFeatures` of @fitstream/transfer) — and a small classifier trains
 * on the embeddings, next to the same classifier on the raw pixels.
 */
// The fields every experiment recipe declares (alike in shape across recipes); the steps they share are in run/.
export const autoencoder: ExperimentRecipe<AutoencoderConfig> = {
  kind: 'experiment',
  name: 'autoencoder',
  summary: 'MNIST digits: dense autoencoder, cached encoder embeddings, a classifier on the embeddings vs on raw pixels',
  schema: schema as unknown as z.ZodType<AutoencoderConfig>,
  defaults: () =>
    experimentRecipeDefaults<AutoencoderConfig>('autoencoder', {
      epochs: 8,
      batchSize: 64,
      lr: 0.002,
      data: { subset: 3000, validationFraction: 0.2, cache: true },
      model: { hidden: [128], code: 32 },
      head: { hidden: [], epochs: 30, lr: 0.01, baseline: true },
      features: { cacheDir: 'auto' },
    }),
  run,
};
