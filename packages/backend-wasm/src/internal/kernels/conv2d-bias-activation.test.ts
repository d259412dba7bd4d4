import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectTrainingHoldsNothing, lossGradients, onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { CONV2D_BIAS_ACTIVATION, RELU_BIAS_GRAD } from './conv2d-bias-activation.js';

const worst = new WorstError();

/** A small CNN: `layers` convolutions, then flatten and a softmax dense layer; weights from fixed seeds. */
function cnn(inputShape: [number, number, number], convs: Array<{ filters: number; kernelSize: number; padding: 'same' | 'valid'; activation: 'relu' | 'linear'; useBias?: boolean; strides?: number }>): tf.LayersModel {
  const model = tf.sequential();
  convs.forEach((c, i) => model.add(tf.layers.conv2d({ ...c, ...(i === 0 ? { inputShape } : {}) })));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 40 + i).map((v) => v * 0.5), w.shape)));
  return model;
}

const CASES = [
  ['one input channel, same (the SIMD loops)', [9, 7, 1], [{ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }]],
  ['3 input channels, valid (XNNPACK\'s FusedConv2D)', [8, 8, 3], [{ filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu' }]],
  [
    'two layers: the second one\'s input gradient, a strided conv',
    [10, 10, 1],
    [
      { filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' },
      { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', strides: 2 },
    ],
  ],
] as const;

describe('Conv2D layers with bias and relu in training on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Conv2D bias + relu layer gradients, worst relative error: ${worst.toString()}`);
  });

  it.each(CASES)('runs as one kernel and trains as the cpu backend does: %s', async (where, inputShape, convs) => {
    const model = cnn([...inputShape] as [number, number, number], convs.map((c) => ({ ...c })));
    const x = tf.tensor(randomValues(4 * inputShape[0] * inputShape[1] * inputShape[2], 5), [4, ...inputShape]);
    const y = tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3);
    const cpu = await onBackend('cpu', () => lossGradients(model, x, y));
    const wasm = await onBackend('wasm', () => lossGradients(model, x, y));
    // Every conv layer fused: no separate relu ran (the kernel names are listed once each).
    expect(wasm.kernels).toContain(CONV2D_BIAS_ACTIVATION);
    expect(wasm.kernels).toContain(RELU_BIAS_GRAD);
    expect(wasm.kernels).not.toContain('Relu');
    expect(cpu.kernels).not.toContain(CONV2D_BIAS_ACTIVATION);
    wasm.grads.forEach((g, i) => {
      expect(worst.record(relativeError(g, cpu.grads[i]!), `${where}: ${model.trainableWeights[i]!.name}`)).toBeLessThanOrEqual(1e-4);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it.each([
    ['8 channels (the SIMD pass)', [3, 5, 4, 8]],
    ['3 channels (the loop)', [2, 3, 5, 3]],
  ] as const)('FitstreamReluBiasGrad: dz = dy where y > 0, db = Σ dz row by row in float32: %s', (_, shape) => {
    const dy = randomValues(shape.reduce((a, b) => a * b, 1), 12);
    // y: the relu output, with zeros where its input was negative
    const y = randomValues(dy.length, 13).map((v) => Math.max(v, 0));
    const width = shape[3];
    const dz = dy.map((d, i) => ((y[i] ?? 0) > 0 ? d : 0));
    const db = new Float32Array(width);
    dz.forEach((v, i) => (db[i % width] = Math.fround((db[i % width] ?? 0) + v)));
    const [outDz, outDb] = tf.tidy(() =>
      (tf.engine().runKernel(RELU_BIAS_GRAD, { dy: tf.tensor(dy, [...shape]), y: tf.tensor(y, [...shape]) }) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array),
    );
    expect(Array.from(outDz!)).toEqual(Array.from(dz));
    expect(Array.from(outDb!)).toEqual(Array.from(db));
  });

  it('leaves inference, linear activations and layers without a bias to tfjs', async () => {
    const model = cnn([6, 6, 1], [
      { filters: 4, kernelSize: 3, padding: 'same', activation: 'linear' },
      { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false },
    ]);
    const x = tf.tensor(randomValues(2 * 36, 6), [2, 6, 6, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 3);
    const { kernels } = await onBackend('wasm', () => lossGradients(model, x, y));
    expect(kernels).not.toContain(CONV2D_BIAS_ACTIVATION);
    const predict = await tf.profile(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()));
    expect(predict.kernelNames).not.toContain(CONV2D_BIAS_ACTIVATION);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('holds no tensor and no heap buffer across training steps', async () => {
    const model = cnn([8, 8, 1], [{ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }]);
    const x = tf.tensor(randomValues(4 * 64, 7), [4, 8, 8, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3);
    expectTrainingHoldsNothing(model, x, y);
    tf.dispose([x, y]);
    model.dispose();
  });
});
