import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, FitstreamInputError, selectBackend, type MetricSpec } from '../../index.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const trainerFor = (loss: 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' = 'categoricalCrossentropy', metrics: MetricSpec[] = []) =>
  createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss, metrics, seed: 1, backend: 'current', log: null });
const fit = { epochs: 1, batchSize: 8, handleSignals: false } as const;

describe('clear errors for bad input', () => {
  it('names both shapes when the features do not fit the model', async () => {
    const data = classificationData(16, 5, 2);
    const error = await trainerFor().fit(data, fit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as FitstreamInputError).argument).toBe('data.x');
    expect((error as Error).message).toMatch(/samples have shape \[5\] but LayersModel ".*" expects \[3\]/);
    expect((error as Error).message).toMatch(/data \[16, 5\], model \[null, 3\]/);
  });

  it('names the target shape against the model output, and hints at sparse labels', async () => {
    const x = tf.ones([8, 3]);
    await expect(trainerFor().fit({ x, y: tf.ones([8, 3]) }, fit)).rejects.toThrow(/data\.y: targets have sample shape \[3\] but .* outputs \[2\]/);
    await expect(trainerFor().fit({ x, y: tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1]) }, fit)).rejects.toThrow(/use loss 'sparseCategoricalCrossentropy'/);
  });

  it('finds NaN and Infinity in inputs and targets, with the first bad sample', async () => {
    const data = classificationData(16, 3, 2);
    const x = data.x.arraySync();
    x[11]![2] = Number.NaN;
    await expect(trainerFor().fit({ x: tf.tensor2d(x), y: data.y }, fit)).rejects.toThrow(/data\.x: contains NaN or Infinity \(first at sample 11\)/);
    const y = data.y.arraySync();
    y[4]![0] = Number.POSITIVE_INFINITY;
    await expect(trainerFor().fit({ x: data.x, y: tf.tensor2d(y) }, fit)).rejects.toThrow(/data\.y: contains NaN or Infinity \(first at sample 4\)/);
    await expect(trainerFor().fit(data, { ...fit, validation: { x: tf.tensor2d(x), y: data.y } })).rejects.toThrow(/options\.validation\.x: contains NaN/);
  });

  it('refuses an empty dataset and a stream that yields nothing', async () => {
    await expect(trainerFor().fit({ x: tf.zeros([0, 3]), y: tf.zeros([0, 2]) }, fit)).rejects.toThrow(/data\.y: the dataset is empty/);
    await expect(trainerFor().fit([], fit)).rejects.toThrow(/data: yielded no batches in epoch 0/);
  });

  it('explains a one-shot generator that is exhausted after the first epoch', async () => {
    const data = classificationData(16, 3, 2);
    async function* once() {
      yield { x: data.x, y: data.y };
    }
    await expect(trainerFor().fit(once(), { ...fit, epochs: 2 })).rejects.toThrow(/one-shot iterator .* pass a function that returns a fresh stream/);
  });

  it('refuses unknown metrics, losses and optimizers, listing the known ones', () => {
    expect(() => trainerFor('categoricalCrossentropy', ['acuracy' as MetricSpec])).toThrow(/unknown metric "acuracy"\. Known metrics: accuracy, binaryAccuracy/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'crossEntropy' as 'huber', backend: 'current' })).toThrow(/loss: unknown loss "crossEntropy"\. Use one of 'meanSquaredError'/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'adamw' as 'adam', loss: 'huber', backend: 'current' })).toThrow(/unknown optimizer "adamw"/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'meanSquaredError', metrics: ['accuracy'], backend: 'current' })).toThrow(/'accuracy' is ambiguous with loss 'meanSquaredError'/);
  });

  it('lets a custom loss declare its target kind so that accuracy resolves', () => {
    const fn = (y: tf.Tensor, p: tf.Tensor) => tf.mean(tf.squaredDifference(y, p), -1) as tf.Tensor1D;
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: { name: 'mine', fn }, metrics: ['accuracy'], backend: 'current' })).toThrow(/'accuracy' is ambiguous with loss 'mine'/);
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: { name: 'mine', fn, kind: 'categorical' }, metrics: ['accuracy'], backend: 'current' })).not.toThrow();
    expect(() => createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: { name: 'mine', fn, kind: 'multi' as 'binary' }, backend: 'current' })).toThrow(/loss\.kind: must be one of/);
  });

  it.each([0, -1, 2.5, Number.NaN])('refuses batch size %s', async (batchSize) => {
    const error = await trainerFor().fit(classificationData(8, 3, 2), { ...fit, batchSize }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect((error as Error).message).toMatch(/^options\.batchSize: must be an integer ≥ 1/);
  });

  it('refuses bad epochs, limits and a fraction limit on a stream of unknown length', async () => {
    const data = classificationData(8, 3, 2);
    await expect(trainerFor().fit(data, { ...fit, epochs: 0 })).rejects.toThrow(/options\.epochs/);
    await expect(trainerFor().fit(data, { ...fit, initialEpoch: 3, epochs: 2 })).rejects.toThrow(/options\.initialEpoch: is 3 but epochs is 2/);
    await expect(trainerFor().fit(data, { ...fit, limitBatches: 1.5 })).rejects.toThrow(/options\.limitBatches/);
    await expect(trainerFor().fit([{ x: data.x, y: data.y }], { ...fit, limitBatches: 0.5 })).rejects.toThrow(/a fraction needs data of known length/);
  });

  it('refuses sparse labels out of range or fractional', async () => {
    const x = tf.ones([4, 3]);
    await expect(trainerFor('sparseCategoricalCrossentropy').fit({ x, y: tf.tensor1d([0, 1, 2, 1]) }, fit)).rejects.toThrow(/sparse labels range over \[0, 2\] but the model outputs 2 classes; labels must be in \[0, 1\]/);
    await expect(trainerFor('sparseCategoricalCrossentropy').fit({ x, y: tf.tensor1d([0, -1, 1, 1]) }, fit)).rejects.toThrow(/range over \[-1, 1\]/);
    await expect(trainerFor('sparseCategoricalCrossentropy').fit({ x, y: tf.tensor1d([0, 0.5, 1, 1]) }, fit)).rejects.toThrow(/must be integers/);
  });

  it('checks streamed batches too', async () => {
    const bad = [{ x: tf.ones([4, 3]), y: tf.tensor1d([0, 1, 5, 1]) }];
    await expect(trainerFor('sparseCategoricalCrossentropy').fit(bad, fit)).rejects.toThrow(/data\.y: sparse labels range over \[0, 5\]/);
    await expect(trainerFor().fit([{ a: 1 } as never], fit)).rejects.toThrow(/data: batch 0 is not \{ x, y \}/);
  });

  it('refuses mismatched sample counts between x and y', async () => {
    await expect(trainerFor().fit({ x: tf.ones([5, 3]), y: tf.ones([4, 2]) }, fit)).rejects.toThrow(/data\.x: has 5 samples but data\.y has 4/);
  });
});
