import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend, withSeed, type FunctionModel } from '../../index.js';
import { classificationData, mlp, regressionData } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const classifier = (seed = 1) =>
  createTrainer({ model: mlp(3, 8, 2, seed), optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed, backend: 'current', log: null });

function batchesOf(data: { x: tf.Tensor; y: tf.Tensor }, size: number) {
  const n = data.x.shape[0];
  const out: { x: tf.Tensor; y: tf.Tensor }[] = [];
  for (let i = 0; i < n; i += size) out.push({ x: data.x.slice(i, Math.min(size, n - i)), y: data.y.slice(i, Math.min(size, n - i)) });
  return out;
}

describe('data sources', () => {
  it('trains from a tf.data.Dataset of { xs, ys } batches, every epoch', async () => {
    const data = classificationData(40, 3, 2);
    const dataset = tf.data.zip({ xs: tf.data.array(data.x.arraySync()), ys: tf.data.array(data.y.arraySync()) })
      .map((e) => { const { xs, ys } = e as { xs: number[]; ys: number[] }; return { xs: tf.tensor1d(xs), ys: tf.tensor1d(ys) }; })
      .batch(10);
    const trainer = classifier();
    const sizes: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => sizes.push(e.samples));
    const result = await trainer.fit(dataset as never, { epochs: 3, handleSignals: false });
    expect(sizes).toEqual([40, 40, 40]);
    expect(result.final?.loss).toBeLessThan(result.history.logs.loss![0]!);
  });

  it('trains from a function returning a fresh async generator each epoch, with stepsPerEpoch', async () => {
    const data = classificationData(40, 3, 2);
    const trainer = classifier();
    let starts = 0;
    const factory = () => {
      starts++;
      return (async function* () {
        for (;;) for (const b of batchesOf(data, 8)) yield b; // endless
      })();
    };
    const epochBatches: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => epochBatches.push(e.batches));
    await trainer.fit(factory, { epochs: 2, stepsPerEpoch: 3, handleSignals: false });
    expect(epochBatches).toEqual([3, 3]);
    expect(starts).toBe(2);
  });

  it('trains from an array of batches and validates on another stream', async () => {
    const data = classificationData(40, 3, 2);
    const trainer = classifier();
    const result = await trainer.fit(batchesOf(data, 8), { epochs: 2, validation: batchesOf(data, 20), handleSignals: false });
    expect(Object.keys(result.final!).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  });
});

describe('epoch shaping options', () => {
  it('limitBatches takes a count or a fraction; overfitBatches reuses the same first batches unshuffled', async () => {
    const data = classificationData(80, 3, 2);
    const count = async (options: object) => {
      const trainer = classifier();
      const batches: number[] = [];
      trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => batches.push(e.batches));
      await trainer.fit(data, { epochs: 2, batchSize: 8, handleSignals: false, ...options });
      return batches;
    };
    expect(await count({ limitBatches: 3 })).toEqual([3, 3]);
    expect(await count({ limitBatches: 0.25 })).toEqual([2, 2]);

    const trainer = createTrainer({ model: mlp(3, 16, 2, 1), optimizer: { name: 'adam', learningRate: 0.05 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    const firstRows: number[][] = [];
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => firstRows.push([e.epoch, e.batch]));
    const result = await trainer.fit(data, { epochs: 30, batchSize: 8, overfitBatches: 2, validation: data, handleSignals: false });
    expect(firstRows.slice(0, 4)).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    expect(result.final?.val_accuracy).toBe(1); // validation runs on the same memorised batches
    expect(result.final!.loss).toBeLessThan(result.history.logs.loss![0]! * 0.5); // it memorises 16 samples
  });

  it('initialEpoch starts counting there; validationEvery validates every n epochs and always at the end', async () => {
    const data = classificationData(32, 3, 2);
    const trainer = classifier();
    const validated: number[] = [];
    trainer.events$.pipe(ofType('validation:end')).subscribe((e) => validated.push(e.epoch));
    const result = await trainer.fit(data, { epochs: 7, initialEpoch: 2, validationEvery: 2, validation: data, batchSize: 16, handleSignals: false });
    expect(result.history.epochs).toEqual([2, 3, 4, 5, 6]);
    expect(validated).toEqual([3, 5, 6]);
    expect(result.history.logs.val_loss).toHaveLength(3);
  });

  it('dropLast drops the partial batch; shuffle: false keeps order', async () => {
    const data = classificationData(20, 3, 2);
    const trainer = classifier();
    const sizes: number[] = [];
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => sizes.push(e.size));
    await trainer.fit(data, { epochs: 1, batchSize: 8, dropLast: true, handleSignals: false });
    expect(sizes).toEqual([8, 8]);
  });

  it('weights samples with sampleWeight (zero weight = no contribution)', async () => {
    const data = classificationData(16, 3, 2);
    const lossWith = async (w: number[]) => {
      const trainer = classifier();
      let loss = 0;
      trainer.events$.pipe(ofType('batch:end')).subscribe((e) => (loss = e.metrics.loss));
      await trainer.fit({ ...data, sampleWeight: tf.tensor1d(w) }, { epochs: 1, batchSize: 16, shuffle: false, handleSignals: false });
      return loss;
    };
    const ones = await lossWith(new Array(16).fill(1));
    const halves = await lossWith(new Array(16).fill(0.5));
    expect(halves).toBeCloseTo(ones / 2, 5);
  });
});

describe('models', () => {
  it('trains a FunctionModel (plain function of variables) to fit a linear relation', async () => {
    const { x, y } = regressionData(128, 2);
    const w = tf.variable(tf.zeros([2, 1]), true, 'linear/w');
    const b = tf.variable(tf.zeros([1]), true, 'linear/b');
    const model: FunctionModel = { variables: [w, b], inputShape: [2], apply: (input) => tf.add(tf.matMul(input as tf.Tensor2D, w), b) };
    const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.1 }, loss: 'meanSquaredError', metrics: ['mae'], seed: 1, backend: 'current', log: null });
    const result = await trainer.fit({ x, y }, { epochs: 40, batchSize: 16, handleSignals: false });
    expect(result.final!.loss).toBeLessThan(0.02);
    expect(Array.from(w.dataSync()).map((v) => Math.round(v * 10) / 10)).toEqual([0.3, 0.6]);
    expect(b.dataSync()[0]).toBeCloseTo(0.5, 1);
  });

  it('trains a two-input LayersModel', async () => {
    const model = withSeed(2, () => {
      const a = tf.input({ shape: [2] });
      const c = tf.input({ shape: [1] });
      const merged = tf.layers.concatenate().apply([a, c]) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 1 }).apply(merged) as tf.SymbolicTensor;
      return tf.model({ inputs: [a, c], outputs: out });
    });
    const { x, y } = regressionData(64, 3);
    const inputs = [x.slice([0, 0], [-1, 2]), x.slice([0, 2], [-1, 1])];
    const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: 0.05 }, loss: 'meanSquaredError', seed: 1, backend: 'current', log: null });
    const result = await trainer.fit({ x: inputs, y }, { epochs: 30, batchSize: 16, handleSignals: false });
    expect(result.final!.loss).toBeLessThan(result.history.logs.loss![0]! / 4);
    await expect(trainer.fit({ x, y }, { epochs: 1, batchSize: 16, handleSignals: false })).rejects.toThrow(/the model takes 2 input\(s\) but the data has 1/);
  });

  it('evaluate() runs in inference mode and aggregates over the data', async () => {
    const data = classificationData(30, 3, 2);
    const model = mlp(3, 8, 2, 1, 0.9); // heavy dropout: inference must switch it off
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    const a = await trainer.evaluate(data, { batchSize: 7 });
    const b = await trainer.evaluate(data, { batchSize: 30 });
    expect(a.samples).toBe(30);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(a.accuracy).toBeCloseTo(b.accuracy, 6);
  });

  it('trains with sparse labels and logits losses', async () => {
    const data = classificationData(40, 3, 3);
    const model = withSeed(3, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3 })] }));
    const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: 0.05 }, loss: { name: 'sparseCategoricalCrossentropy', fromLogits: true }, metrics: ['accuracy'], seed: 1, backend: 'current', log: null });
    const result = await trainer.fit({ x: data.x, y: tf.tensor1d(data.labels, 'int32') }, { epochs: 30, batchSize: 8, handleSignals: false });
    expect(result.final!.accuracy).toBeGreaterThan(0.8);
  });
});
