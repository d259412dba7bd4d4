import * as tf from '@tensorflow/tfjs';
import { withSeed } from '@fitstream/core';
import { loadIris, stratifiedSplit } from '@fitstream/datasets';
import { standardScaler } from '@fitstream/samplers';
import { z } from 'zod';
import { configSchema, holdoutDataSchema, recipeDefaults, type RunConfig } from '../config/schema.js';
import type { RecipeDefinition } from './recipe.js';
import { holdoutRecord, standardisedRows, standardisedSplit } from './tabular.js';

const METRICS = ['accuracy'] as const;
const FEATURES = ['sepal length', 'sepal width', 'petal length', 'petal width'];

const model = z.strictObject({ hiddenUnits: z.int().min(1), activation: z.enum(['relu', 'tanh', 'elu', 'sigmoid']) });
const schema = configSchema('iris', METRICS, holdoutDataSchema, model) as unknown as z.ZodType<RunConfig>;

/** `fitstream train iris`: an MLP 4-16-3 on Fisher's Iris, stratified 80/20 split, features standardised on the train split. */
// The fields every recipe declares (alike in shape across recipes); the steps they share are in tabular.ts.
export const iris: RecipeDefinition = {
  name: 'iris',
  summary: "Fisher's Iris: MLP 4-16-3",
  task: 'classification',
  loss: 'sparseCategoricalCrossentropy',
  metrics: METRICS,
  featureCount: 4,
  featureNames: FEATURES,
  targetName: 'species',
  schema,
  defaults: () =>
    recipeDefaults('iris', 'val_accuracy', {
      epochs: 50,
      batchSize: 16,
      lr: 0.01,
      data: { testFraction: 0.2, cache: true },
      model: { hiddenUnits: 16, activation: 'relu' },
      callbacks: { earlyStopping: { monitor: 'val_loss', patience: 20 } },
    }),
  async load(config) {
    const d = await loadIris({ cache: config.data['cache'] !== false });
    return { x: d.x, y: d.y, metadata: { ...d.metadata }, cache: d.cache };
  },
  prepare(config, loaded) {
    const testFraction = config.data['testFraction'] as number;
    const split = stratifiedSplit(loaded.y.dataSync(), { testFraction, seed: config.seed });
    const { train, validation, standardisation } = standardisedSplit(loaded, split);
    return {
      train,
      validation,
      info: holdoutRecord(loaded, { kind: 'stratified', testFraction, seed: config.seed }, split, { standardise: standardisation }),
    };
  },
  cvPreprocessors: () => [standardScaler()],
  buildModel(config, random) {
    const units = config.model['hiddenUnits'] as number;
    const activation = config.model['activation'] as 'relu';
    return withSeed(random, () =>
      tf.sequential({
        name: 'iris_mlp',
        layers: [tf.layers.dense({ name: 'hidden', inputShape: [4], units, activation }), tf.layers.dense({ name: 'output', units: 3, activation: 'softmax' })],
      }),
    );
  },
  plugins: () => [],
  inputs: (rows, preprocessing) => standardisedRows(rows, 4, `iris (${FEATURES.join(', ')}, in cm)`, preprocessing),
  targets: (values) => tf.tensor1d([...values], 'int32'),
};
