import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectTrainingHoldsNothing, lossGradients, onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { heapGemmProducts } from '../gemm/heap-gemm.js';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { RELU_BIAS_GRAD } from '../kernels/conv2d-bias-activation.js';
import { DENSE_BIAS_ACTIVATION } from './dense-bias-activation.js';

const worst = new WorstError();

/** An MLP: `hidden` dense layers, then a softmax layer of 3; weights from fixed seeds. */
function mlp(inputs: number, hidden: Array<{ units: number; activation: 'relu' | 'linear'; useBias?: boolean }>): tf.LayersModel {
  const model = tf.sequential();
  hidden.forEach((h, i) => model.add(tf.layers.dense({ ...h, ...(i === 0 ? { inputShape: [inputs] } : {}) })));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 60 + i).map((v) => v * 0.5), w.shape)));
  return model;
}

const CASES = [
  ['one hidden layer (in place on one thread)', 20, [{ units: 12, activation: 'relu' }]],
  ['an MLP layer\'s size, two hidden layers (the split products)', 784, [{ units: 256, activation: 'relu' }, { units: 64, activation: 'relu' }]],
  ['odd widths', 33, [{ units: 17, activation: 'relu' }, { units: 5, activation: 'relu' }]],
  ['a linear hidden layer between relu ones', 40, [{ units: 24, activation: 'relu' }, { units: 12, activation: 'linear' }, { units: 8, activation: 'relu' }]],
] as const;

describe('Dense layers with a bias in training on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`Dense bias + relu layer gradients, worst relative error: ${worst.toString()}`);
  });

  it.each(CASES)('runs as one kernel and trains as the cpu backend does: %s', async (where, inputs, hidden) => {
    const model = mlp(inputs, hidden.map((h) => ({ ...h })));
    const x = tf.tensor(randomValues(64 * inputs, 5), [64, inputs]);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 3), 'int32'), 3);
    const cpu = await onBackend('cpu', () => lossGradients(model, x, y));
    const wasm = await onBackend('wasm', () => lossGradients(model, x, y));
    // Every layer fused, the softmax one too (its softmax applied after the kernel): no separate relu ran, and no
    // layer took tfjs' fused.matMul (the kernel names are listed once each).
    expect(wasm.kernels).toContain(DENSE_BIAS_ACTIVATION);
    expect(wasm.kernels).toContain(RELU_BIAS_GRAD);
    expect(wasm.kernels).toContain('Softmax');
    expect(wasm.kernels).not.toContain('Relu');
    expect(wasm.kernels).not.toContain('_FusedMatMul');
    expect(cpu.kernels).toContain('_FusedMatMul');
    expect(cpu.kernels).not.toContain(DENSE_BIAS_ACTIVATION);
    wasm.grads.forEach((g, i) => {
      expect(worst.record(relativeError(g, cpu.grads[i]!), `${where}: ${model.trainableWeights[i]!.name}`)).toBeLessThanOrEqual(1e-4);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('leaves inference, layers without a bias and inputs of rank 3 to tfjs', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [8], units: 6, activation: 'linear', useBias: false }), tf.layers.dense({ units: 3, activation: 'softmax', useBias: false })],
    });
    const x = tf.tensor(randomValues(2 * 8, 6), [2, 8]);
    const y = tf.oneHot(tf.tensor1d([0, 1], 'int32'), 3);
    const { kernels } = await onBackend('wasm', () => lossGradients(model, x, y));
    expect(kernels).not.toContain(DENSE_BIAS_ACTIVATION);
    const predict = await tf.profile(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()));
    expect(predict.kernelNames).not.toContain(DENSE_BIAS_ACTIVATION);
    const sequence = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 8], units: 4, activation: 'relu' })] });
    const xs = tf.tensor(randomValues(2 * 3 * 8, 7), [2, 3, 8]);
    const trained = await tf.profile(() => tf.tidy(() => tf.variableGrads(() => (sequence.predict(xs) as tf.Tensor).sum() as tf.Scalar).value.dataSync()));
    expect(trained.kernelNames).not.toContain(DENSE_BIAS_ACTIVATION);
    tf.dispose([x, y, xs]);
    model.dispose();
    sequence.dispose();
  });

  it('keeps the stock matMul when the matMulTranspose group is not installed', async () => {
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { matMulTranspose: false });
    try {
      const model = mlp(300, [{ units: 64, activation: 'relu' }]);
      const x = tf.tensor(randomValues(64 * 300, 8), [64, 300]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 3), 'int32'), 3);
      const before = heapGemmProducts();
      const cpu = await onBackend('cpu', () => lossGradients(model, x, y));
      const wasm = await onBackend('wasm', () => lossGradients(model, x, y));
      expect(wasm.kernels).toContain(DENSE_BIAS_ACTIVATION);
      expect(heapGemmProducts()).toBe(before);
      wasm.grads.forEach((g, i) => expect(relativeError(g, cpu.grads[i]!)).toBeLessThanOrEqual(1e-4));
      tf.dispose([x, y]);
      model.dispose();
    } finally {
      uninstallWasmKernels(tf);
      installWasmKernels(tf);
    }
  });

  it('holds no tensor and no heap buffer across training steps', async () => {
    const model = mlp(40, [{ units: 24, activation: 'relu' }]);
    const x = tf.tensor(randomValues(16 * 40, 7), [16, 40]);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3);
    expectTrainingHoldsNothing(model, x, y);
    tf.dispose([x, y]);
    model.dispose();
  });
});
