import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, withSeed } from '@fitstream/core';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { onBackend, randomValues, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';
import { RELU_BIAS_GRAD } from '../kernels/conv2d-bias-activation.js';
import { DENSE_BIAS_ACTIVATION } from './dense-bias-activation.js';
import { BIAS_GRAD, CATEGORICAL_ACCURACY, CATEGORICAL_CROSSENTROPY, CATEGORICAL_CROSSENTROPY_GRAD, RELU_GRAD, SOFTMAX_GRAD } from './step-kernels.js';

const TOLERANCE = 1e-5;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Probabilities per row (positive, summing to about 1) and one-hot targets, as host arrays. */
function classification(rows: number, classes: number, seed: number): { p: Float32Array; y: Float32Array } {
  const raw = randomValues(rows * classes, seed);
  const p = new Float32Array(rows * classes);
  const y = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += (p[r * classes + j] = Math.exp(3 * raw[r * classes + j]!));
    for (let j = 0; j < classes; j++) p[r * classes + j]! /= sum;
    y[r * classes + ((r * 7) % classes)] = 1;
  }
  // Rows that exercise the clip: a prediction of exactly 0 and one of 1, and one that does not sum to 1.
  p.fill(0, 0, classes);
  p[0] = 1;
  for (let j = 0; j < classes; j++) p[classes + j]! *= 3;
  return { p, y };
}

/** tfjs' own ops: the categorical cross-entropy of @fitstream/losses (Keras' formula). */
function stockCrossentropy(y: tf.Tensor, p: tf.Tensor): tf.Tensor {
  const q = tf.clipByValue(tf.div(p, tf.sum(p, -1, true)), 1e-7, 1 - 1e-7);
  return tf.sum(tf.neg(tf.mul(y, tf.log(q))), -1);
}

describe('dense step kernels on wasm: one kernel each, equal to tfjs’ chains within 1e-5', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => installWasmKernels(tf));

  it('are registered by the stepFusions group and removed by uninstall', () => {
    const names = [RELU_GRAD, SOFTMAX_GRAD, BIAS_GRAD, CATEGORICAL_CROSSENTROPY, CATEGORICAL_CROSSENTROPY_GRAD, CATEGORICAL_ACCURACY];
    for (const name of names) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { stepFusions: false });
    for (const name of names) expect(tf.getKernel(name, 'wasm'), name).toBeUndefined();
    installWasmKernels(tf);
  });

  it('the gradients of a bias add, relu and softmax equal tfjs’ own (cpu), through one kernel each on wasm', async () => {
    const shape = [6, 9];
    const x = randomValues(54, 11).map((v, i) => (i === 5 ? 0 : v * 3));
    const w = randomValues(54, 12);
    const bias = randomValues(9, 13);
    // The bias on either side of the add: both orders are a dense layer's bias.
    const f = (t: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.softmax(tf.relu(tf.add(b, tf.add(t, b)))), tf.tensor(w, shape)));
    const gradient = () => tf.tidy(() => tf.grads(f)([tf.tensor(x, shape), tf.tensor1d(bias)]).flatMap((g) => Array.from(g.dataSync())));
    const reference = await onBackend('cpu', gradient);
    await tf.setBackend('wasm');
    const profile = await tf.profile(gradient);
    expect(maxAbsDiff(profile.result as number[], reference)).toBeLessThan(TOLERANCE);
    expect(profile.kernelNames).toEqual(expect.arrayContaining([RELU_GRAD, SOFTMAX_GRAD, BIAS_GRAD]));
    expect(profile.kernelNames).not.toContain('Step');
  });

  it('the cross-entropy and its gradients (targets and predictions) equal tfjs’ chain of ops (cpu)', async () => {
    const rows = 12;
    const classes = 7;
    const { p, y } = classification(rows, classes, 21);
    const dy = randomValues(rows, 22);
    const shape = [rows, classes];
    const reference = await onBackend('cpu', () =>
      tf.tidy(() => {
        const [yt, pt, g] = [tf.tensor(y, shape), tf.tensor(p, shape), tf.tensor1d(dy)];
        const value = stockCrossentropy(yt, pt);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => stockCrossentropy(a, b))([yt, pt], g);
        return [value, ...grads].map((t) => Array.from(t.dataSync()));
      }),
    );
    const ours = await onBackend('wasm', () =>
      tf.tidy(() => {
        const [yt, pt, g] = [tf.tensor(y, shape), tf.tensor(p, shape), tf.tensor1d(dy)];
        const value = tf.engine().runKernel(CATEGORICAL_CROSSENTROPY, { yTrue: yt, yPred: pt }, {}) as tf.Tensor;
        const grads = tf.engine().runKernel(CATEGORICAL_CROSSENTROPY_GRAD, { dy: g, yTrue: yt, yPred: pt }, {}) as tf.Tensor[];
        return [value, ...grads].map((t) => Array.from(t.dataSync()));
      }),
    );
    expect(ours[0]!).toHaveLength(rows);
    for (let i = 0; i < 3; i++) {
      // The loss itself is up to −log(1e-7) ≈ 16: compare relative to its size.
      const scale = i === 0 ? Math.max(1, ...reference[0]!.map(Math.abs)) : 1;
      expect(maxAbsDiff(ours[i]!, reference[i]!) / scale, ['value', 'dYTrue', 'dYPred'][i]).toBeLessThan(TOLERANCE);
    }
  });

  it('the accuracy equals tfjs’ argMax/equal chain, ties resolved to the first maximum', async () => {
    const rows = 10;
    const classes = 4;
    const { p, y } = classification(rows, classes, 31);
    p.set([0.25, 0.25, 0.25, 0.25], 2 * classes); // a tie
    const shape = [rows, classes];
    const stock = (yt: tf.Tensor, pt: tf.Tensor) => tf.equal(tf.argMax(yt, -1), tf.argMax(pt, -1)).toFloat();
    const reference = await onBackend('cpu', () => tf.tidy(() => Array.from(stock(tf.tensor(y, shape), tf.tensor(p, shape)).dataSync())));
    const ours = await onBackend('wasm', () =>
      tf.tidy(() => Array.from((tf.engine().runKernel(CATEGORICAL_ACCURACY, { yTrue: tf.tensor(y, shape), yPred: tf.tensor(p, shape) }, {}) as tf.Tensor).dataSync())),
    );
    expect(ours).toEqual(reference);
  });
});

describe('the trainer’s MLP step with and without the step fusions', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => installWasmKernels(tf));

  /** Trains a small relu/softmax MLP with categorical cross-entropy and accuracy; returns weights, history, leak. */
  async function train(stepFusions: boolean) {
    uninstallWasmKernels(tf);
    installWasmKernels(tf, { stepFusions });
    const model = withSeed(5, () =>
      tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [12], units: 16, activation: 'relu' }),
          tf.layers.dense({ units: 16, activation: 'relu' }),
          tf.layers.dense({ units: 5, activation: 'softmax' }),
        ],
      }),
    );
    const x = tf.tensor(randomValues(64 * 12, 41), [64, 12]);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 64 }, (_, i) => (i * 3) % 5), 'int32'), 5).toFloat();
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 3, backend: 'current', log: null });
    await trainer.fit({ x, y }, { epochs: 1, batchSize: 16, shuffle: false, handleSignals: false });
    const before = tf.memory().numTensors;
    let history: Awaited<ReturnType<typeof trainer.fit>> | undefined;
    const profile = await tf.profile(async () => {
      history = await trainer.fit({ x, y }, { epochs: 3, initialEpoch: 1, batchSize: 16, shuffle: false, handleSignals: false });
      return [];
    });
    const leaked = tf.memory().numTensors - before;
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    trainer.dispose();
    model.dispose();
    tf.dispose([x, y]);
    return { weights, history: history!.history.logs as unknown as Record<string, number[]>, leaked, kernels: profile.kernelNames };
  }

  it('gives the same weights, loss and accuracy within 1e-5, and leaks no tensor', async () => {
    const stock = await train(false);
    const fused = await train(true);
    expect(fused.leaked).toBe(0);
    expect(stock.leaked).toBe(0);
    fused.weights.forEach((w, i) => expect(maxAbsDiff(w, stock.weights[i]!), `weight ${i}`).toBeLessThan(TOLERANCE));
    expect(maxAbsDiff(fused.history['loss']!, stock.history['loss']!)).toBeLessThan(TOLERANCE);
    expect(fused.history['accuracy']).toEqual(stock.history['accuracy']);
    // The fused step took the one-kernel paths (@fitstream/losses found the loss and accuracy kernels), the stock one did not.
    // The dense layers train as FitstreamDenseBiasActivation, whose gradient is one relu-and-bias pass (no RELU_GRAD) or,
    // for the softmax layer, one bias pass (BIAS_GRAD).
    const fusedNames = [CATEGORICAL_CROSSENTROPY, CATEGORICAL_CROSSENTROPY_GRAD, CATEGORICAL_ACCURACY, SOFTMAX_GRAD, BIAS_GRAD, DENSE_BIAS_ACTIVATION, RELU_BIAS_GRAD];
    expect(fused.kernels).toEqual(expect.arrayContaining(fusedNames));
    expect(fused.kernels).not.toContain('Relu');
    expect(stock.kernels.filter((k) => fusedNames.includes(k))).toEqual([]);
  });
});
