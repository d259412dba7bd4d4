import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, tidyValues } from '../test-support/fixtures.js';
import { resolveLoss } from './losses.js';
import { resolveMetrics } from './metrics.js';

// The names a backend package registers (backend-wasm's dense/step-kernels.ts spells the same); part of the contract.
const CROSSENTROPY = 'FitstreamCategoricalCrossentropy';
const CROSSENTROPY_GRAD = 'FitstreamCategoricalCrossentropyGrad';
const ACCURACY = 'FitstreamCategoricalAccuracy';

/**
 * Stand-in kernels on cpu whose results differ from the real formulas on purpose, so that a value shows which path
 * ran: the "loss" is Σ y·p per row, its gradient (dy·p, dy·y), and the "accuracy" 0.25 per row.
 */
function registerStandIns(names: readonly string[]): void {
  const host = (backend: unknown, info: tf.TensorInfo) => (backend as tf.KernelBackend).readSync(info.dataId) as Float32Array;
  const output = (backend: unknown, values: Float32Array, shape: number[]): tf.TensorInfo => ({ dataId: (backend as tf.KernelBackend).write(values, shape, 'float32'), shape, dtype: 'float32' });
  const rowsOf = (info: tf.TensorInfo) => [info.shape[0]!, info.shape[1]!] as const;
  const kernels: Record<string, tf.KernelFunc> = {
    [CROSSENTROPY]: ({ inputs, backend }) => {
      const [y, p] = [inputs['yTrue']!, inputs['yPred']!];
      const [rows, classes] = rowsOf(p);
      const [yv, pv] = [host(backend, y), host(backend, p)];
      const out = new Float32Array(rows);
      for (let r = 0; r < rows; r++) for (let c = 0; c < classes; c++) out[r]! += yv[r * classes + c]! * pv[r * classes + c]!;
      return output(backend, out, [rows]);
    },
    [CROSSENTROPY_GRAD]: ({ inputs, backend }) => {
      const [dy, y, p] = [inputs['dy']!, inputs['yTrue']!, inputs['yPred']!];
      const [rows, classes] = rowsOf(p);
      const [dyv, yv, pv] = [host(backend, dy), host(backend, y), host(backend, p)];
      const [dYTrue, dYPred] = [new Float32Array(rows * classes), new Float32Array(rows * classes)];
      for (let i = 0; i < rows * classes; i++) {
        dYTrue[i] = dyv[Math.floor(i / classes)]! * pv[i]!;
        dYPred[i] = dyv[Math.floor(i / classes)]! * yv[i]!;
      }
      return [output(backend, dYTrue, [rows, classes]), output(backend, dYPred, [rows, classes])];
    },
    [ACCURACY]: ({ inputs, backend }) => output(backend, new Float32Array(inputs['yPred']!.shape[0]!).fill(0.25), [inputs['yPred']!.shape[0]!]),
  };
  for (const name of names) tf.registerKernel({ kernelName: name, backendName: 'cpu', kernelFunc: kernels[name]! });
}

function unregisterStandIns(): void {
  for (const name of [CROSSENTROPY, CROSSENTROPY_GRAD, ACCURACY]) if (tf.getKernel(name, 'cpu')) tf.unregisterKernel(name, 'cpu');
}

const Y = [[0, 1, 0], [0, 0, 1]];
const P = [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1]];
/** The real categorical cross-entropy of Y and P: −log p at the target class. */
const CROSSENTROPY_OF_Y_P = [-Math.log(0.5), -Math.log(0.1)];
/** The stand-in's value: Σ y·p per row. */
const STAND_IN_OF_Y_P = [0.5, 0.1];

describe('the kernel-name seam: fused cross-entropy and accuracy where a backend registered them', () => {
  let previous = '';
  beforeAll(async () => {
    await tf.ready();
    previous = tf.getBackend();
    await tf.setBackend('cpu');
  });
  afterEach(unregisterStandIns);
  afterAll(async () => {
    await tf.setBackend(previous);
  });

  it('without registered kernels, tfjs ops compute the Keras formula', () => {
    expectClose(tidyValues(() => resolveLoss('categoricalCrossentropy').fn(tf.tensor2d(Y), tf.tensor2d(P))), CROSSENTROPY_OF_Y_P);
  });

  it('categoricalCrossentropy runs the registered kernel forward, and its gradient kernel backward (targets and predictions)', async () => {
    registerStandIns([CROSSENTROPY, CROSSENTROPY_GRAD]);
    const loss = resolveLoss('categoricalCrossentropy');
    const profile = await tf.profile(() => tf.tidy(() => loss.fn(tf.tensor2d(Y), tf.tensor2d(P))));
    expectClose(Array.from((profile.result as tf.Tensor).dataSync()), STAND_IN_OF_Y_P);
    (profile.result as tf.Tensor).dispose();
    expect(profile.kernelNames).toContain(CROSSENTROPY);
    expect(profile.kernelNames).not.toContain('Log');
    const dy = [2, 3];
    const [dYTrue, dYPred] = tf.tidy(() => tf.grads((y: tf.Tensor, p: tf.Tensor) => loss.fn(y, p))([tf.tensor2d(Y), tf.tensor2d(P)], tf.tensor1d(dy)));
    expectClose(Array.from(dYTrue!.dataSync()), P.flatMap((row, r) => row.map((v) => dy[r]! * v)));
    expectClose(Array.from(dYPred!.dataSync()), Y.flatMap((row, r) => row.map((v) => dy[r]! * v)));
    tf.dispose([dYTrue!, dYPred!]);
  });

  it('sparseCategoricalCrossentropy of probabilities takes the same kernel (on the one-hot targets)', () => {
    registerStandIns([CROSSENTROPY, CROSSENTROPY_GRAD]);
    expectClose(tidyValues(() => resolveLoss('sparseCategoricalCrossentropy').fn(tf.tensor1d([1, 2]), tf.tensor2d(P))), STAND_IN_OF_Y_P);
  });

  it('falls back to tfjs ops unless both loss kernels are registered and the tensors are float32 [batch, classes]', () => {
    const loss = resolveLoss('categoricalCrossentropy');
    registerStandIns([CROSSENTROPY]);
    expectClose(tidyValues(() => loss.fn(tf.tensor2d(Y), tf.tensor2d(P))), CROSSENTROPY_OF_Y_P);
    registerStandIns([CROSSENTROPY_GRAD]);
    // int32 targets, and [batch, steps, classes]: not what the kernels take.
    expectClose(tidyValues(() => loss.fn(tf.tensor2d(Y, undefined, 'int32'), tf.tensor2d(P))), CROSSENTROPY_OF_Y_P);
    expectClose(tidyValues(() => loss.fn(tf.tensor3d([Y]), tf.tensor3d([P]))), [(CROSSENTROPY_OF_Y_P[0]! + CROSSENTROPY_OF_Y_P[1]!) / 2]);
    // Logits never take the probabilities' kernel.
    expectClose(tidyValues(() => resolveLoss({ name: 'categoricalCrossentropy', fromLogits: true }).fn(tf.tensor2d([[0, 1]]), tf.tensor2d([[0, 0]]))), [Math.LN2]);
  });

  it('categoricalAccuracy (and accuracy with a categorical loss) runs the registered accuracy kernel', () => {
    registerStandIns([ACCURACY]);
    for (const spec of ['categoricalAccuracy', 'accuracy'] as const) {
      const [accuracy] = resolveMetrics([spec], resolveLoss('categoricalCrossentropy'));
      expect(tidyValues(() => accuracy!.fn(tf.tensor2d(Y), tf.tensor2d(P)))).toEqual([0.25, 0.25]);
    }
    unregisterStandIns();
    const [accuracy] = resolveMetrics(['categoricalAccuracy'], resolveLoss('categoricalCrossentropy'));
    expect(tidyValues(() => accuracy!.fn(tf.tensor2d(Y), tf.tensor2d(P)))).toEqual([1, 0]);
  });

  it('leaks no tensor through the fused forward and backward', () => {
    registerStandIns([CROSSENTROPY, CROSSENTROPY_GRAD, ACCURACY]);
    const loss = resolveLoss('categoricalCrossentropy');
    const [accuracy] = resolveMetrics(['accuracy'], loss);
    const [y, p] = [tf.tensor2d(Y), tf.tensor2d(P)];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => loss.fn(a, b))([y, p])).forEach((g) => g.dispose());
      tf.tidy(() => accuracy!.fn(y, p)).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, p]);
  });
});
