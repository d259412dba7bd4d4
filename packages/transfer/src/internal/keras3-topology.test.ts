import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, selectBackend } from '@fitstream/core';
import { freezeLayers, loadPretrained, modelLayers } from '../index.js';
import { Random } from '@fitstream/util';
import { classificationData } from '../test-support/fixtures.js';
import { assertSupportedArguments, isKeras3Topology, keras2Topology, matchWeightNames } from './keras3-topology.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-keras3-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The pieces of a Keras 3 export, as `tensorflowjs_converter` 4.22 writes them under Keras 3.x (TensorFlow ≥ 2.16).
const policy = (name = 'float32') => ({ module: 'keras', class_name: 'DTypePolicy', config: { name }, registered_name: null });
const initializer = (className: string) => ({ module: 'keras.initializers', class_name: className, config: className === 'GlorotUniform' ? { seed: null } : {}, registered_name: null });
const tensor = (layer: string, shape: Array<number | null>) => ({ class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] } });
const call = (args: unknown[], kwargs: object = {}) => [{ args, kwargs }];
const dense = (name: string, units: number, activation: string, dtype = policy()) => ({
  class_name: 'Dense',
  config: { name, trainable: true, dtype, units, activation, use_bias: true, kernel_initializer: initializer('GlorotUniform'), bias_initializer: initializer('Zeros'), kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null },
  build_config: { input_shape: [null, 4] },
});
const batchNorm = (name: string) => ({
  class_name: 'BatchNormalization',
  config: {
    name, trainable: true, dtype: policy(), axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true, beta_initializer: initializer('Zeros'), gamma_initializer: initializer('Ones'),
    moving_mean_initializer: initializer('Zeros'), moving_variance_initializer: initializer('Ones'), beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null, synchronized: false,
  },
});
const inputLayer = (name: string, batchShape: Array<number | null>) => ({ class_name: 'InputLayer', config: { batch_shape: batchShape, dtype: 'float32', sparse: false, ragged: false, name, optional: false } });
/** A Sequential model's topology as Keras `version` writes it. */
const sequentialTopology = (version: string, layers: object[]) => ({
  keras_version: version,
  backend: 'tensorflow',
  model_config: { class_name: 'Sequential', config: { name: 'sequential', trainable: true, dtype: policy(), layers } },
});

/** Two branches from one input, concatenated, batch-normalised, dropout, softmax head: a Keras 3 functional model. */
function functionalTopology() {
  return {
    keras_version: '3.10.0',
    backend: 'tensorflow',
    model_config: {
      class_name: 'Functional',
      config: {
        name: 'functional',
        trainable: true,
        layers: [
          { ...inputLayer('features', [null, 4]), name: 'features', inbound_nodes: [] },
          { ...dense('left', 3, 'relu'), name: 'left', inbound_nodes: call([tensor('features', [null, 4])]) },
          { ...dense('right', 2, 'tanh'), name: 'right', inbound_nodes: call([tensor('features', [null, 4])]) },
          { class_name: 'Concatenate', config: { name: 'concatenate', trainable: true, dtype: policy(), axis: -1 }, name: 'concatenate', inbound_nodes: call([[tensor('left', [null, 3]), tensor('right', [null, 2])]]) },
          { ...batchNorm('batch_normalization'), name: 'batch_normalization', inbound_nodes: call([tensor('concatenate', [null, 5])], { mask: null }) },
          { class_name: 'Dropout', config: { name: 'dropout', trainable: true, dtype: policy(), rate: 0.5, seed: null, noise_shape: null }, name: 'dropout', inbound_nodes: call([tensor('batch_normalization', [null, 5])]) },
          { ...dense('classes', 3, 'softmax', policy('mixed_float16')), name: 'classes', inbound_nodes: call([tensor('dropout', [null, 5])]) },
        ],
        // Keras 3 writes a single input or output as one triple.
        input_layers: ['features', 0, 0],
        output_layers: ['classes', 0, 0],
      },
    },
    training_config: { loss: 'categorical_crossentropy', optimizer_config: { class_name: 'AdamW', config: { name: 'adamw', learning_rate: 0.001, weight_decay: 0.004, use_ema: false } } },
  };
}

const WEIGHTS: Array<[string, number[]]> = [
  ['left/kernel', [4, 3]],
  ['left/bias', [3]],
  ['right/kernel', [4, 2]],
  ['right/bias', [2]],
  ['batch_normalization/gamma', [5]],
  ['batch_normalization/beta', [5]],
  ['batch_normalization/moving_mean', [5]],
  ['batch_normalization/moving_variance', [5]],
  ['classes/kernel', [5, 3]],
  ['classes/bias', [3]],
];

/** Writes `model.json` and one weight shard; returns the weights by (unprefixed) name. */
async function writeExport(target: string, topology: object, weightPrefix: string): Promise<Map<string, Float32Array>> {
  const random = Random.fromSeed(31);
  const values = new Map(
    WEIGHTS.map(([name, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = Float32Array.from({ length: n }, () => (name.endsWith('moving_variance') ? 0.5 + random.next() : random.normal() * 0.5));
      return [name, v] as const;
    }),
  );
  const all = new Float32Array([...values.values()].flatMap((v) => Array.from(v)));
  await mkdir(target, { recursive: true });
  const json = {
    format: 'layers-model',
    generatedBy: 'keras v3.10.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: topology,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: WEIGHTS.map(([name, shape]) => ({ name: weightPrefix + name, shape, dtype: 'float32' })) }],
  };
  await writeFile(join(target, 'model.json'), JSON.stringify(json));
  await writeFile(join(target, 'group1-shard1of1.bin'), new Uint8Array(all.buffer));
  return values;
}

/** The same network built with the tfjs API, holding the same weights: what the loaded model must compute. */
function referenceModel(weights: Map<string, Float32Array>): tf.LayersModel {
  const input = tf.input({ shape: [4], name: 'features' });
  const left = tf.layers.dense({ units: 3, activation: 'relu', name: 'left' }).apply(input) as tf.SymbolicTensor;
  const right = tf.layers.dense({ units: 2, activation: 'tanh', name: 'right' }).apply(input) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'concatenate' }).apply([left, right]) as tf.SymbolicTensor;
  const normalised = tf.layers.batchNormalization({ name: 'batch_normalization' }).apply(joined) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ rate: 0.5, name: 'dropout' }).apply(normalised) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'classes' }).apply(dropped) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  for (const w of model.weights) w.write(tf.tensor(weights.get(w.originalName)!, w.shape as number[]));
  return model;
}

const predict = (model: tf.LayersModel, x: tf.Tensor) => tf.tidy(() => Array.from((model.predict(x) as tf.Tensor).dataSync()));

describe('Keras 3 exports (tensorflowjs_converter under Keras 3, which tf.loadLayersModel refuses)', () => {
  it('stock tfjs refuses the format: the reason this translation exists', async () => {
    const target = join(dir, 'stock');
    const weights = await writeExport(target, functionalTopology(), '');
    expect(weights.size).toBe(WEIGHTS.length);
    const json = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(target, 'model.json'), 'utf8'))) as { modelTopology: object };
    await expect(tf.models.modelFromJSON({ modelTopology: json.modelTopology } as Parameters<typeof tf.models.modelFromJSON>[0])).rejects.toThrow(/InputLayer should be passed either a `batchInputShape` or an `inputShape`/);
  });

  it('loads a functional model (branches, concatenate, batch norm, dropout, dtype policies) computing exactly what tfjs computes', async () => {
    const target = join(dir, 'functional');
    const weights = await writeExport(target, functionalTopology(), '');
    const model = await loadPretrained(target);
    expect(modelLayers(model).map((l) => l.name)).toEqual(['left', 'right', 'concatenate', 'batch_normalization', 'dropout', 'classes']);
    for (const w of model.weights) expect(Array.from(w.read().dataSync()), w.originalName).toEqual(Array.from(weights.get(w.originalName)!));
    const reference = referenceModel(weights);
    const x = tf.tensor2d(Float32Array.from({ length: 8 * 4 }, (_, i) => Math.sin(i)), [8, 4]);
    expect(predict(model, x)).toEqual(predict(reference, x));
    expect(model.getLayer('classes').getWeights().map((w) => w.dtype)).toEqual(['float32', 'float32']); // mixed_float16: float32 variables
    tf.dispose(x);
    model.dispose();
    reference.dispose();
  });

  it('loads a Sequential model whose weight names carry the model name (sequential/dense/kernel), and fine-tunes it', async () => {
    const topology = sequentialTopology('3.13.2', [inputLayer('input_layer', [null, 4]), dense('left', 3, 'relu'), dense('classes', 3, 'softmax')]);
    const target = join(dir, 'sequential');
    await mkdir(target, { recursive: true });
    const kernel = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 10);
    const head = Float32Array.from({ length: 9 }, (_, i) => (i % 3) / 5 - 0.2);
    const parts = [kernel, new Float32Array([0.1, 0, -0.1]), head, new Float32Array([0, 0.05, -0.05])];
    const json = {
      format: 'layers-model',
      generatedBy: 'keras v3.13.2',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: topology,
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'sequential/left/kernel', shape: [4, 3], dtype: 'float32' },
            { name: 'sequential/left/bias', shape: [3], dtype: 'float32' },
            { name: 'sequential/classes/kernel', shape: [3, 3], dtype: 'float32' },
            { name: 'sequential/classes/bias', shape: [3], dtype: 'float32' },
          ],
        },
      ],
    };
    await writeFile(join(target, 'model.json'), JSON.stringify(json));
    await writeFile(join(target, 'group1-shard1of1.bin'), new Uint8Array(new Float32Array(parts.flatMap((p) => Array.from(p))).buffer));
    const model = await loadPretrained(join(target, 'model.json'));
    expect(Array.from(model.getLayer('left').getWeights()[0]!.dataSync())).toEqual(Array.from(kernel));
    expect(Array.from(model.getLayer('classes').getWeights()[0]!.dataSync())).toEqual(Array.from(head));
    // Fine-tune: backbone frozen bit for bit, head trained.
    freezeLayers(model, 'left');
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null });
    const data = classificationData(48, 4, 3);
    await trainer.fit(data, { epochs: 2, batchSize: 16, handleSignals: false });
    expect(Array.from(model.getLayer('left').getWeights()[0]!.dataSync())).toEqual(Array.from(kernel));
    expect(Array.from(model.getLayer('classes').getWeights()[0]!.dataSync())).not.toEqual(Array.from(head));
    trainer.dispose();
    model.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('loads a functional backbone nested in a Sequential model (the usual transfer-learning export), weights under both names', async () => {
    const backbone = functionalTopology().model_config;
    const topology = sequentialTopology('3.10.0', [
      inputLayer('input_layer', [null, 4]),
      { module: 'keras.src.models.functional', ...backbone, registered_name: 'Functional', build_config: { input_shape: [null, 4] } },
      dense('new_head', 2, 'softmax'),
    ]);
    const target = join(dir, 'nested');
    const weights = await writeExport(target, topology, 'sequential/functional/');
    // The head's weights, appended to the export's manifest and shard.
    const json = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(target, 'model.json'), 'utf8'))) as { weightsManifest: Array<{ weights: object[] }> };
    json.weightsManifest[0]!.weights.push({ name: 'sequential/new_head/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'sequential/new_head/bias', shape: [2], dtype: 'float32' });
    const head = Float32Array.from([0.5, -0.5, 0.25, -0.25, 1, -1, 0.1, -0.1]);
    const shard = new Float32Array([...[...weights.values()].flatMap((v) => Array.from(v)), ...head]);
    await writeFile(join(target, 'model.json'), JSON.stringify(json));
    await writeFile(join(target, 'group1-shard1of1.bin'), new Uint8Array(shard.buffer));
    const model = await loadPretrained(target, { frozen: true });
    expect(modelLayers(model).map((l) => l.name)).toEqual(['left', 'right', 'concatenate', 'batch_normalization', 'dropout', 'classes', 'new_head']);
    const reference = referenceModel(weights);
    const x = tf.tensor2d(Float32Array.from({ length: 4 * 4 }, (_, i) => Math.cos(i)), [4, 4]);
    const probabilities = predict(reference, x);
    const expected = [0, 1, 2, 3].flatMap((r) => {
      const row = probabilities.slice(3 * r, 3 * r + 3);
      const logits = [0, 1].map((j) => row.reduce((sum, p, i) => sum + p * head[2 * i + j]!, head[6 + j]!));
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      return e.map((v) => v / (e[0]! + e[1]!));
    });
    predict(model, x).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(model.trainableWeights).toHaveLength(0);
    tf.dispose(x);
    model.dispose();
    reference.dispose();
  });

  it('refuses what the tfjs format cannot express, naming the layer and the fix', async () => {
    const withTensorKwarg = functionalTopology();
    withTensorKwarg.model_config.config.layers[4]!.inbound_nodes = call([tensor('concatenate', [null, 5])], { mask: tensor('left', [null, 3]) });
    const target = join(dir, 'kwarg');
    await writeExport(target, withTensorKwarg, '');
    await expect(loadPretrained(target)).rejects.toThrow(/path: layer "batch_normalization": a call with tensor keyword arguments \(mask\).*TF_USE_LEGACY_KERAS=1/);
    const withScalarArg = functionalTopology();
    withScalarArg.model_config.config.layers[1]!.inbound_nodes = call([tensor('features', [null, 4]), 2]);
    const other = join(dir, 'scalar-arg');
    await writeExport(other, withScalarArg, '');
    await expect(loadPretrained(other)).rejects.toThrow(/path: layer "left": the layer is called with a non-tensor argument \(2\)/);
  });
});

describe('keras2Topology / matchWeightNames', () => {
  it('rewrites only the Keras 3 forms, leaving the input untouched; Keras 2 topologies are not detected', () => {
    const k3 = functionalTopology();
    const before = JSON.stringify(k3);
    const k2 = keras2Topology(k3) as ReturnType<typeof functionalTopology> & { model_config: { config: { layers: Array<{ config: Record<string, unknown>; inbound_nodes: unknown }> } } };
    expect(JSON.stringify(k3)).toBe(before);
    const layers = k2.model_config.config.layers;
    expect(layers[0]!.config).toEqual({ batch_input_shape: [null, 4], dtype: 'float32', sparse: false, ragged: false, name: 'features' });
    expect(layers[1]!.config['dtype']).toBe('float32');
    expect(layers[6]!.config['dtype']).toBe('float32'); // a mixed_float16 policy: Keras keeps float32 variables
    expect(layers[1]!.config['kernel_initializer']).toMatchObject({ class_name: 'GlorotUniform', config: { seed: null } });
    expect(layers[3]!.inbound_nodes).toEqual([[['left', 0, 0, {}], ['right', 0, 0, {}]]]);
    expect(layers[4]!.inbound_nodes).toEqual([[['concatenate', 0, 0, { mask: null }]]]);
    expect(k2.model_config.config.input_layers).toEqual([['features', 0, 0]]);
    expect(k2).not.toHaveProperty('training_config');
    expect(isKeras3Topology(k3)).toBe(true);
    expect(isKeras3Topology({ keras_version: '2.13.1', model_config: {} })).toBe(false);
    expect(isKeras3Topology({ model_config: { config: { layers: [{ config: { batch_input_shape: [null, 4] } }] } } })).toBe(false);
    expect(isKeras3Topology({ model_config: { config: { layers: [{ config: { batch_shape: [null, 4] } }] } } })).toBe(true);
  });

  it('maps renamed layer arguments (LeakyReLU negative_slope → alpha: tfjs would use its own 0.3) and refuses ones tfjs ignores', async () => {
    const sequential = (extra: object) => sequentialTopology('3.10.0', [inputLayer('input_layer', [null, 4]), { class_name: 'LeakyReLU', config: { name: 'leaky', negative_slope: 0.1, dtype: policy() } }, extra]);
    const target = join(dir, 'leaky');
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: sequential({ class_name: 'Dropout', config: { name: 'dropout', rate: 0.5, seed: null, noise_shape: null, dtype: policy() } }), weightsManifest: [{ paths: [], weights: [] }] }));
    const model = await loadPretrained(target);
    const x = tf.tensor2d([[-2, -1, 0, 3]]);
    expect(predict(model, x)).toEqual([-0.2, -0.1, 0, 3].map((v) => Math.fround(v)));
    tf.dispose(x);
    model.dispose();
    const refused: Array<[object, RegExp]> = [
      [{ class_name: 'ReLU', config: { name: 'relu', negative_slope: 0.05, threshold: 0, max_value: null } }, /layer "relu" \(ReLU\) sets negative_slope = 0\.05, which tfjs-layers does not implement/],
      [{ class_name: 'Dense', config: { name: 'adapted', units: 2, lora_rank: 4 } }, /layer "adapted" \(Dense\) sets lora_rank = 4/],
      [{ class_name: 'Conv1D', config: { name: 'grouped', filters: 4, kernel_size: [1], groups: 2 } }, /layer "grouped" \(Conv1D\) sets groups = 2/],
    ];
    for (const [layer, message] of refused) expect(() => keras2Topology(sequential(layer))).toThrow(message);
    expect(() => keras2Topology(sequential({ class_name: 'ReLU', config: { name: 'relu', negative_slope: 0, threshold: 0, max_value: 6 } }))).not.toThrow();
    // Keras 2 topologies, which tfjs reads as they are, are checked the same way (tf.keras 2 has these arguments too).
    const keras2 = (layer: object) => ({ keras_version: '2.15.0', model_config: { class_name: 'Sequential', config: { name: 'sequential', layers: [layer] } } });
    expect(() => assertSupportedArguments(keras2({ class_name: 'Conv2D', config: { name: 'grouped', filters: 4, kernel_size: [3, 3], groups: 2 } }))).toThrow(/layer "grouped" \(Conv2D\) sets groups = 2/);
    expect(() => assertSupportedArguments(keras2({ class_name: 'Conv2D', config: { name: 'plain', filters: 4, kernel_size: [3, 3], groups: 1 } }))).not.toThrow();
    const keras2Target = join(dir, 'keras2-thresholded');
    await mkdir(keras2Target, { recursive: true });
    const relu = { class_name: 'ReLU', config: { name: 'thresholded', threshold: 0.5, negative_slope: 0, max_value: null, batch_input_shape: [null, 4] } };
    await writeFile(join(keras2Target, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: keras2(relu), weightsManifest: [{ paths: [], weights: [] }] }));
    await expect(loadPretrained(keras2Target)).rejects.toThrow(/path: layer "thresholded" \(ReLU\) sets threshold = 0\.5/);
  });

  it('matches prefixed names by their longest known suffix, each model weight once', () => {
    const model = ['dense/kernel', 'dense/bias', 'dense_1/kernel'];
    expect([...matchWeightNames(['sequential/dense/kernel', 'sequential/dense/bias', 'dense_1/kernel'], model)]).toEqual([
      ['sequential/dense/kernel', 'dense/kernel'],
      ['sequential/dense/bias', 'dense/bias'],
    ]);
    expect([...matchWeightNames(['a/dense/kernel', 'b/dense/kernel'], model)]).toEqual([['a/dense/kernel', 'dense/kernel']]);
    expect([...matchWeightNames(['sequential/unknown/kernel'], model)]).toEqual([]);
  });
});
