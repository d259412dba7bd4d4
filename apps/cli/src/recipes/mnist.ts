import * as tf from '@tensorflow/tfjs';
import { withSeed, type Random } from '@fitstream/core';
import { loadMnist, stratifiedSplit } from '@fitstream/datasets';
import { augmentation, trainOnly } from '@fitstream/samplers';
import { z } from 'zod';
import { configSchema, recipeDefaults, type RunConfig } from '../config/schema.js';
import type { RecipeDefinition } from './recipe.js';
import { checkRows, gatherPair, holdoutRecord } from './tabular.js';

const METRICS = ['accuracy'] as const;
const SIDE = 28;

const data = z.strictObject({ subset: z.int().min(100).max(10_000), validationFraction: z.number().gt(0).lt(1), cache: z.boolean() });
const model = z.strictObject({ filters: z.tuple([z.int().min(1), z.int().min(1)]), dense: z.int().min(0), dropout: z.number().min(0).lt(1) });
const aug = z.strictObject({ enabled: z.boolean(), maxShift: z.int().min(0).max(6) });
const schema = configSchema('mnist', METRICS, data.extend({ augmentation: aug }), model) as unknown as z.ZodType<RunConfig>;

/**
 * Random translation by up to `maxShift` pixels in each direction, a different shift per image (zero padding, then a
 * crop at a seeded random offset through `cropAndResize` at integer pixel positions: an exact shift, no blur).
 */
export function randomShift(maxShift: number) {
  return trainOnly(`random-shift(${maxShift})`, (x: tf.Tensor, random: Random) => {
    const n = x.shape[0] ?? 0;
    const padded = SIDE + 2 * maxShift;
    const boxes: number[][] = [];
    for (let i = 0; i < n; i++) {
      const dy = random.int(2 * maxShift + 1);
      const dx = random.int(2 * maxShift + 1);
      boxes.push([dy / (padded - 1), dx / (padded - 1), (dy + SIDE - 1) / (padded - 1), (dx + SIDE - 1) / (padded - 1)]);
    }
    const images = tf.pad(x as tf.Tensor4D, [[0, 0], [maxShift, maxShift], [maxShift, maxShift], [0, 0]]);
    return tf.image.cropAndResize(images, tf.tensor2d(boxes, [n, 4]), tf.range(0, n, 1, 'int32') as tf.Tensor1D, [SIDE, SIDE], 'bilinear');
  });
}

/** `fitstream train mnist`: a small CNN on the mnist package's digits, shift augmentation on the training split only. */
export const mnist: RecipeDefinition = {
  name: 'mnist',
  summary: 'handwritten digits: small CNN',
  task: 'classification',
  loss: 'sparseCategoricalCrossentropy',
  metrics: METRICS,
  featureCount: SIDE * SIDE,
  featureNames: Array.from({ length: SIDE * SIDE }, (_, i) => `pixel ${Math.floor(i / SIDE)},${i % SIDE}`),
  targetName: 'digit',
  schema,
  defaults: () =>
    recipeDefaults('mnist', 'val_accuracy', {
      epochs: 5,
      batchSize: 16,
      lr: 0.002,
      data: { subset: 10_000, validationFraction: 0.1, cache: true, augmentation: { enabled: true, maxShift: 2 } },
      model: { filters: [16, 32], dense: 0, dropout: 0 },
      callbacks: {
        earlyStopping: { monitor: 'val_accuracy', patience: 2 },
        backupAndRestore: { everySteps: 50 },
        trainingReport: { stepEvery: 5 },
        jsonlLogger: { readBatchMetricsEvery: 5 },
      },
      lrFinder: { minLr: 1e-5, maxLr: 1, steps: 60 },
    }),
  async load(config) {
    const d = await loadMnist({ subset: config.data['subset'] as number, cache: config.data['cache'] !== false });
    return { x: d.x, y: d.y, metadata: { ...d.metadata, featureNames: ['28×28 pixels'], units: ['intensity (0–1)'] }, cache: d.cache };
  },
  prepare(config, loaded) {
    const testFraction = config.data['validationFraction'] as number;
    const split = stratifiedSplit(loaded.y.dataSync(), { testFraction, seed: config.seed });
    const train = gatherPair(loaded.x, loaded.y, split.train);
    const validation = gatherPair(loaded.x, loaded.y, split.test);
    tf.dispose([loaded.x, loaded.y]);
    return {
      train,
      validation,
      info: holdoutRecord(loaded, { kind: 'stratified', testFraction, seed: config.seed }, split, { pixels: 'byte / 255, as loaded', augmentation: config.data['augmentation'] }),
    };
  },
  cvPreprocessors: () => [],
  buildModel(config, random) {
    const [f1, f2] = config.model['filters'] as [number, number];
    const dense = config.model['dense'] as number;
    const dropout = config.model['dropout'] as number;
    return withSeed(random, () =>
      tf.sequential({
        name: 'mnist_cnn',
        layers: [
          tf.layers.conv2d({ name: 'conv1', inputShape: [SIDE, SIDE, 1], filters: f1, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
          tf.layers.conv2d({ name: 'conv2', filters: f2, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
          tf.layers.flatten({ name: 'flatten' }),
          ...(dropout > 0 ? [tf.layers.dropout({ name: 'dropout', rate: dropout })] : []),
          ...(dense > 0 ? [tf.layers.dense({ name: 'dense', units: dense, activation: 'relu' })] : []),
          tf.layers.dense({ name: 'output', units: 10, activation: 'softmax' }),
        ],
      }),
    );
  },
  plugins(config) {
    const a = config.data['augmentation'] as { enabled: boolean; maxShift: number };
    return a.enabled && a.maxShift > 0 ? [augmentation(randomShift(a.maxShift))] : [];
  },
  inputs(rows) {
    checkRows(rows, SIDE * SIDE, 'an mnist image (784 pixel values, row by row, 0–1 or 0–255)');
    const scale = rows.some((r) => r.some((v) => v > 1)) ? 1 / 255 : 1;
    return tf.tidy(() => tf.mul(tf.tensor4d(rows.flat(), [rows.length, SIDE, SIDE, 1]), scale));
  },
  targets: (values) => tf.tensor1d([...values], 'int32'),
};
