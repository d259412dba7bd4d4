import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, selectBackend } from '@fitstream/core';
import { attachHead, extractFeatures, freezeLayers, loadPretrained, loadWeightsByName, modelLayers, truncateModel, updateBatchNormStatistics } from '../index.js';
import { Random, withSeed } from '@fitstream/util';
import { classificationData } from '../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-pretrained-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await selectBackend({ prefer: 'cpu', log: null });
});

function classifier(seed = 2, classes = 3): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 16, activation: 'relu', name: 'features1' }),
        tf.layers.batchNormalization({ name: 'features_bn' }),
        tf.layers.dense({ units: 8, activation: 'relu', name: 'embedding' }),
        tf.layers.dense({ units: classes, activation: 'softmax', name: 'classes' }),
      ],
    }),
  );
}

const arrays = (ws: readonly tf.Tensor[]) => ws.map((w) => Array.from(w.dataSync()));

/** A model.json exactly as `tensorflowjs_converter --input_format keras` writes it for a tf.keras 2.x Sequential model. */
async function writeKerasExport(target: string): Promise<{ kernel: number[]; bias: number[] }> {
  const random = Random.fromSeed(11);
  const kernel = Array.from({ length: 4 * 5 }, () => random.normal() * 0.5);
  const bias = Array.from({ length: 5 }, () => random.normal() * 0.1);
  const kernel2 = Array.from({ length: 5 * 3 }, () => random.normal() * 0.5);
  const bias2 = [0.1, -0.1, 0];
  const initializer = { class_name: 'GlorotUniform', config: { seed: null } };
  const dense = (name: string, units: number, activation: string, extra: object = {}) => ({
    class_name: 'Dense',
    config: { name, trainable: true, dtype: 'float32', units, activation, use_bias: true, kernel_initializer: initializer, bias_initializer: { class_name: 'Zeros', config: {} }, kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null, ...extra },
  });
  const json = {
    format: 'layers-model',
    generatedBy: 'keras v2.13.1',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.13.1',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'sequential',
          layers: [
            { class_name: 'InputLayer', config: { batch_input_shape: [null, 4], dtype: 'float32', sparse: false, ragged: false, name: 'dense_input' } },
            dense('dense', 5, 'relu', { batch_input_shape: [null, 4] }),
            // tf.keras ≥ 2 writes the axis of a built BatchNormalization as a list.
            {
              class_name: 'BatchNormalization',
              config: { name: 'batch_normalization', trainable: true, dtype: 'float32', axis: [1], momentum: 0.99, epsilon: 0.001, center: true, scale: true, beta_initializer: { class_name: 'Zeros', config: {} }, gamma_initializer: { class_name: 'Ones', config: {} }, moving_mean_initializer: { class_name: 'Zeros', config: {} }, moving_variance_initializer: { class_name: 'Ones', config: {} }, beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null },
            },
            dense('dense_1', 3, 'softmax'),
          ],
        },
      },
      training_config: { loss: 'categorical_crossentropy', metrics: ['accuracy'], optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.001 } } },
    },
    // Two shards, as the converter splits large weights (4 MB by default).
    weightsManifest: [
      {
        paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
        weights: [
          { name: 'dense/kernel', shape: [4, 5], dtype: 'float32' },
          { name: 'dense/bias', shape: [5], dtype: 'float32' },
          { name: 'batch_normalization/gamma', shape: [5], dtype: 'float32' },
          { name: 'batch_normalization/beta', shape: [5], dtype: 'float32' },
          { name: 'batch_normalization/moving_mean', shape: [5], dtype: 'float32' },
          { name: 'batch_normalization/moving_variance', shape: [5], dtype: 'float32' },
          { name: 'dense_1/kernel', shape: [5, 3], dtype: 'float32' },
          { name: 'dense_1/bias', shape: [3], dtype: 'float32' },
        ],
      },
    ],
  };
  const bn = [...Array<number>(5).fill(1.5), ...Array<number>(5).fill(0.25), ...Array<number>(5).fill(0.5), ...Array<number>(5).fill(4)];
  const all = new Float32Array([...kernel, ...bias, ...bn, ...kernel2, ...bias2]);
  const bytes = new Uint8Array(all.buffer);
  await writeFile(join(target, 'model.json'), JSON.stringify(json));
  await writeFile(join(target, 'group1-shard1of2.bin'), bytes.slice(0, 64));
  await writeFile(join(target, 'group1-shard2of2.bin'), bytes.slice(64));
  return { kernel, bias };
}

describe('loadPretrained', () => {
  it('loads a model saved by tfjs, with its weights, and freezes it on request', async () => {
    const source = classifier();
    await source.save(fileSystem(join(dir, 'saved')));
    const loaded = await loadPretrained(join(dir, 'saved'), { frozen: true });
    // Per layer: tfjs orders model.getWeights() trainable first, so freezing reorders the flat list.
    for (const layer of source.layers) expect(arrays(loaded.getLayer(layer.name).getWeights())).toEqual(arrays(layer.getWeights()));
    expect(loaded.trainableWeights).toHaveLength(0);
  });

  it('loads a Keras model converted by tensorflowjs_converter (sharded weights)', async () => {
    const target = join(dir, 'keras');
    await rm(target, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(target, { recursive: true }));
    const { kernel, bias } = await writeKerasExport(target);
    const model = await loadPretrained(join(target, 'model.json'));
    expect(modelLayers(model).map((l) => l.name)).toEqual(['dense', 'batch_normalization', 'dense_1']);
    expect(Array.from(model.getLayer('batch_normalization').getWeights()[3]!.dataSync())).toEqual([4, 4, 4, 4, 4]);
    // Inference uses the stored statistics: (h − 0.5) / √(4 + 0.001) · 1.5 + 0.25 for the dense layer's output h.
    const h = tf.tidy(() => Array.from((truncateModel(model, 'dense').predict(tf.ones([1, 4])) as tf.Tensor).dataSync()));
    const normalised = tf.tidy(() => Array.from((truncateModel(model, 'batch_normalization').predict(tf.ones([1, 4])) as tf.Tensor).dataSync()));
    normalised.forEach((v, i) => expect(v).toBeCloseTo(((h[i]! - 0.5) / Math.sqrt(4.001)) * 1.5 + 0.25, 5));
    expect(Array.from(model.getLayer('dense').getWeights()[0]!.dataSync())).toEqual(Array.from(new Float32Array(kernel)));
    expect(Array.from(model.getLayer('dense').getWeights()[1]!.dataSync())).toEqual(Array.from(new Float32Array(bias)));
    const out = tf.tidy(() => Array.from((model.predict(tf.ones([2, 4])) as tf.Tensor).sum(1).dataSync()));
    out.forEach((s) => expect(s).toBeCloseTo(1, 5)); // softmax rows
  });

  it('explains what is wrong: missing file, graph model, not a model', async () => {
    await expect(loadPretrained(join(dir, 'nowhere'))).rejects.toThrow(/path: .*nowhere does not exist; pass a tfjs layers model.json/);
    const graph = join(dir, 'graph.json');
    await writeFile(graph, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    await expect(loadPretrained(graph)).rejects.toThrow(/is a tfjs graph model .*--output_format tfjs_layers_model/);
    const other = join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ hello: 'world' }));
    await expect(loadPretrained(other)).rejects.toThrow(/has no modelTopology\/weightsManifest/);
  });
});

describe('loadWeightsByName, truncateModel, attachHead', () => {
  it('copies a pretrained backbone by layer name; the new head keeps its weights', () => {
    const pretrained = classifier(2, 10);
    const fresh = classifier(9, 3);
    const head = arrays(fresh.getLayer('classes').getWeights());
    expect(() => loadWeightsByName(fresh, pretrained)).toThrow(
      /target: layer "classes" weight "classes\/kernel" is \[8, 10\] in the pretrained model but \[8, 3\] here; give the new layer another name .* or pass \{ skipMismatch: true \}/,
    );
    // Nothing was written by the failed call.
    expect(arrays(fresh.getLayer('features1').getWeights())).not.toEqual(arrays(pretrained.getLayer('features1').getWeights()));
    const report = loadWeightsByName(fresh, pretrained, { skipMismatch: true });
    expect(report).toEqual({ loaded: ['features1', 'features_bn', 'embedding'], skipped: ['classes'], missing: [] });
    for (const name of report.loaded) expect(arrays(fresh.getLayer(name).getWeights())).toEqual(arrays(pretrained.getLayer(name).getWeights()));
    expect(arrays(fresh.getLayer('classes').getWeights())).toEqual(head);
  });

  it('truncates at a named layer, sharing weights; attaches a head, naming the layer whose input does not fit', () => {
    const base = classifier();
    const backbone = truncateModel(base, 'embedding');
    expect(backbone.outputs[0]!.shape).toEqual([null, 8]);
    expect(backbone.getLayer('embedding').getWeights()[0]).toBe(base.getLayer('embedding').getWeights()[0]); // shared, not copied
    expect(() => truncateModel(base, 'embeding')).toThrow(/upTo: names no layer "embeding" of model .*; its layers are features1, features_bn, embedding, classes/);

    const model = attachHead(backbone, [tf.layers.dense({ units: 2, activation: 'softmax', name: 'new_head' })]);
    expect(model.outputs[0]!.shape).toEqual([null, 2]);
    const wrong = tf.layers.dense({ inputShape: [32], units: 2, name: 'head_for_32' });
    expect(() => attachHead(backbone, [wrong])).toThrow(/head: layer "head_for_32" expects inputs of shape \[32\] but the backbone ".*" gives \[8\]/);
  });

  it('fine-tunes a pretrained backbone under a new head: backbone frozen bit for bit, head learns', async () => {
    const pretrained = classifier();
    const data = classificationData(96, 4, 3);
    const pre = createTrainer({ model: pretrained, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    await pre.fit(data, { epochs: 10, batchSize: 16, handleSignals: false });
    await pretrained.save(fileSystem(join(dir, 'backbone')));
    const base = await loadPretrained(join(dir, 'backbone'));
    const model = attachHead(truncateModel(base, 'embedding'), [tf.layers.dense({ units: 3, activation: 'softmax', name: 'new_head' })]);
    freezeLayers(model, { allButLast: 1 });
    const frozenBefore = base.layers.map((l) => arrays(l.getWeights()));
    const trainer = createTrainer({ model, optimizer: tf.train.adam(0.03), loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    const result = await trainer.fit(data, { epochs: 15, batchSize: 16, handleSignals: false });
    expect(base.layers.map((l) => arrays(l.getWeights()))).toEqual(frozenBefore);
    expect(result.final?.accuracy).toBeGreaterThan(0.9);
  });
});

describe('extractFeatures', () => {
  it('equals the truncated model’s inference output, caches on disk, and recomputes when weights change', async () => {
    const model = classifier();
    const x = tf.randomNormal([50, 4], 0, 1, 'float32', 3);
    const cacheDir = join(dir, 'features');
    const first = await extractFeatures(model, x, { upTo: 'embedding', batchSize: 16, cacheDir });
    const expected = tf.tidy(() => Array.from((truncateModel(model, 'embedding').predict(x) as tf.Tensor).dataSync()));
    expect(first.cache).toBe('miss');
    expect(first.features.shape).toEqual([50, 8]);
    expect(Array.from(first.features.dataSync())).toEqual(expected);
    const second = await extractFeatures(model, x, { upTo: 'embedding', cacheDir });
    expect(second.cache).toBe('hit');
    expect(second.key).toBe(first.key);
    expect(Array.from(second.features.dataSync())).toEqual(expected);
    // Other weights: another key, computed again.
    tf.tidy(() => model.getLayer('features1').setWeights(model.getLayer('features1').getWeights().map((w) => w.mul(2))));
    const third = await extractFeatures(model, x, { upTo: 'embedding', cacheDir });
    expect(third.cache).toBe('miss');
    expect(third.key).not.toBe(first.key);
    // A corrupted cache file is recomputed, not trusted.
    await writeFile(first.path!, new Uint8Array(16));
    tf.tidy(() => model.getLayer('features1').setWeights(model.getLayer('features1').getWeights().map((w) => w.div(2))));
    const fourth = await extractFeatures(model, x, { upTo: 'embedding', cacheDir });
    expect(fourth.cache).toBe('miss');
    expect(Array.from(fourth.features.dataSync())).toEqual(expected);
    expect((await readdir(cacheDir)).filter((f) => f.includes('.tmp'))).toEqual([]);
    tf.dispose([x, first.features, second.features, third.features, fourth.features]);
  });

  it('rejects empty or mismatched inputs by name; leaks no tensors', async () => {
    const model = classifier();
    await expect(extractFeatures(model, tf.zeros([0, 4]))).rejects.toThrow(/x: has no samples/);
    await expect(extractFeatures(model, tf.zeros([4, 4]), { batchSize: 0 })).rejects.toThrow(/options.batchSize: must be a positive integer/);
    const x = tf.ones([20, 4]);
    const before = tf.memory().numTensors;
    const { features } = await extractFeatures(model, x, { batchSize: 7 });
    features.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('updateBatchNormStatistics', () => {
  it('sets the moving statistics to the exact average of the per-batch statistics over the data', () => {
    // A batch-norm layer directly on the inputs: with equal batches, the average of batch means is the data mean and
    // the average of (biased) batch variances is what tfjs' moments give per batch.
    const model = withSeed(1, () => tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [3], name: 'bn' }), tf.layers.dense({ units: 2 })] }));
    const x = tf.tidy(() => tf.randomNormal([64, 3], 0, 1, 'float32', 5).mul([1, 2, 3]).add([5, -1, 0]));
    const updated = updateBatchNormStatistics(model, x, { batchSize: 16 });
    expect(updated).toEqual(['bn']);
    const [, , movingMean, movingVar] = model.getLayer('bn').getWeights().map((w) => Array.from(w.dataSync()));
    const batches = [0, 1, 2, 3].map((b) => tf.tidy(() => tf.moments(x.slice(b * 16, 16), 0)));
    const mean = tf.tidy(() => Array.from(tf.stack(batches.map((m) => m.mean)).mean(0).dataSync()));
    const variance = tf.tidy(() => Array.from(tf.stack(batches.map((m) => m.variance)).mean(0).dataSync()));
    movingMean!.forEach((v, i) => expect(v).toBeCloseTo(mean[i]!, 4));
    movingVar!.forEach((v, i) => expect(v).toBeCloseTo(variance[i]!, 3));
    expect((model.getLayer('bn') as unknown as { momentum: number }).momentum).toBe(0.99); // restored
    tf.dispose([x, ...batches.flatMap((m) => [m.mean, m.variance])]);
  });
});
