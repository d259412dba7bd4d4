import { beforeAll, describe, expect, it } from 'vitest';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { CLIP_BY_VALUE_GRAD } from './clip-by-value-grad.js';
import { backendDataIds, onBackend, setUpWasmWithKernels, tf } from '../../test-support/wasm-kernel-harness.js';

/** Gradient of sum(clipByValue(x, min, max) · w) w.r.t. x — exercises the ClipByValue gradient with a non-trivial dy. */
function clipGradient(values: number[], weights: number[], min: number, max: number): number[] {
  return tf.tidy(() => {
    const x = tf.tensor1d(values);
    const w = tf.tensor1d(weights);
    return Array.from(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(t, min, max), w)))(x).dataSync());
  });
}

describe('tape kernels on wasm: Identity and Cast share memory, ClipByValue gradient in one kernel', () => {
  beforeAll(setUpWasmWithKernels);

  it('Identity (the tape’s clone) shares the input’s memory; either may be disposed first', async () => {
    await onBackend('wasm', () => {
      const before = backendDataIds();
      const x = tf.tensor1d([1, 2, 3, 4]);
      const y = tf.clone(x);
      expect(backendDataIds() - before).toBe(1); // one heap buffer for both
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
      y.dispose();
      expect(backendDataIds()).toBe(before);
    });
  });

  it('a variable assigned after a clone leaves the clone unchanged (no kernel writes in place)', async () => {
    await onBackend('wasm', () => {
      const v = tf.variable(tf.tensor1d([1, 2]));
      const snapshot = tf.clone(v);
      v.assign(tf.tensor1d([5, 6]));
      expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
      expect(Array.from(v.dataSync())).toEqual([5, 6]);
      tf.dispose([v, snapshot]);
    });
  });

  it('Cast to the same dtype shares memory; to another dtype converts', async () => {
    await onBackend('wasm', () => {
      const x = tf.tensor1d([1.5, -2.25]);
      const same = tf.cast(x, 'float32');
      const other = tf.cast(x, 'int32');
      expect(Array.from(same.dataSync())).toEqual([1.5, -2.25]);
      expect(other.dtype).toBe('int32');
      expect(Array.from(other.dataSync())).toEqual([1, -2]);
      x.dispose();
      expect(Array.from(same.dataSync())).toEqual([1.5, -2.25]);
      tf.dispose([same, other]);
    });
  });

  it('the ClipByValue gradient equals tfjs’ own on the cpu backend exactly, boundaries and NaN included', async () => {
    const values = [-3, -1, -0.5, 0, 0.25, 0.5, 1, 1.5, Number.NaN, 0.999, -0.0001, 2];
    const weights = values.map((_, i) => (i % 3) - 1.25 + i / 7);
    // (min = max is not a clip: tfjs returns a constant there, with no gradient path.)
    for (const [min, max] of [[0, 1], [-1, 0.5], [0.25, 0.5]] as const) {
      const wasm = await onBackend('wasm', () => clipGradient(values, weights, min, max));
      const cpu = await onBackend('cpu', () => clipGradient(values, weights, min, max));
      expect(wasm).toEqual(cpu);
    }
  });

  it('the routed gradient uses the fused kernel on wasm only, and tfjs’ own after uninstall', async () => {
    const kernelsIn = async (backend: 'cpu' | 'wasm') =>
      onBackend(backend, async () => {
        const profile = await tf.profile(() => clipGradient([0.5, 2], [1, 1], 0, 1));
        return profile.kernels.map((k) => k.name);
      });
    expect(await kernelsIn('wasm')).toContain(CLIP_BY_VALUE_GRAD);
    expect(await kernelsIn('cpu')).not.toContain(CLIP_BY_VALUE_GRAD);
    await onBackend('wasm', () => uninstallWasmKernels(tf));
    try {
      const stock = await kernelsIn('wasm');
      expect(stock).not.toContain(CLIP_BY_VALUE_GRAD);
      expect(stock).toContain('Select');
    } finally {
      await onBackend('wasm', () => installWasmKernels(tf));
    }
  });

  it('a right operand that is a reshaped view of a buffer already used as a right operand multiplies correctly (stock tfjs-wasm reuses the wrong cached operator and crashes)', async () => {
    await onBackend('wasm', () => {
      const w = tf.tensor2d(Array.from({ length: 64 }, (_, i) => (i % 7) - 3), [1, 64]);
      const a = tf.ones([8, 1]);
      const first = tf.matMul(a, w); // caches an operator for w's buffer as [1, 64]
      const view = w.reshape([64, 1]); // the same buffer as [64, 1]
      const b = tf.tensor2d(Array.from({ length: 8 * 64 }, (_, i) => ((i * 13) % 11) / 10), [8, 64]);
      const viaView = tf.matMul(b, view);
      const viaTranspose = tf.matMul(b, w, false, true); // the backward pass's dX = dy·Wᵀ on the same buffer
      const expected = tf.tidy(() => tf.sum(tf.mul(b, w), 1, true));
      const got = Array.from(viaView.dataSync());
      Array.from(expected.dataSync()).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      expect(Array.from(viaTranspose.dataSync())).toEqual(Array.from(viaView.dataSync()));
      tf.dispose([w, a, first, view, b, viaView, viaTranspose, expected]);
    });
  });

  it('an LSTM with hard-sigmoid gates trains on wasm with the same gradients as on cpu, and leaks nothing', async () => {
    const gradsOn = (backend: 'cpu' | 'wasm') =>
      onBackend(backend, () => {
        // Constant initialisers: the same weights on both backends.
        const model = tf.sequential({
          layers: [
            tf.layers.lstm({ inputShape: [5, 3], units: 4, kernelInitializer: tf.initializers.constant({ value: 0.3 }), recurrentInitializer: tf.initializers.constant({ value: -0.2 }) }),
            tf.layers.dense({ units: 1, kernelInitializer: 'ones' }),
          ],
        });
        const x = tf.tidy(() => tf.linspace(-1, 1, 2 * 5 * 3).reshape([2, 5, 3]));
        tf.tidy(() => {
          model.apply(x); // builds the weights
        });
        const before = tf.memory().numTensors;
        const { grads, value } = tf.variableGrads(() => tf.sum(model.apply(x) as tf.Tensor) as tf.Scalar);
        const values = Object.values(grads).map((g) => Array.from(g.dataSync()));
        tf.dispose([value, ...Object.values(grads)]);
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        model.dispose();
        return values;
      });
    const wasm = await gradsOn('wasm');
    const cpu = await gradsOn('cpu');
    wasm.flat().forEach((v, i) => expect(v).toBeCloseTo(cpu.flat()[i]!, 5));
  });
});
