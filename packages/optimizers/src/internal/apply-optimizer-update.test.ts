// The seam with the backend packages: applyOptimizerUpdate finds a fused update in tfjs' kernel registry by name and
// reads its maxElements hint; the kernels themselves (and their bit-identity with tfjs) are tested in
// @fitstream/backend-wasm. Here a stand-in SGD kernel is registered on cpu.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyOptimizerUpdate, usesFusedUpdate } from '../index.js';

interface CpuStorage {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

const sizes: number[] = [];
const sgdKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as unknown as CpuStorage;
  const [value, gradient] = [inputs['value']!, inputs['gradient']!].map((i) => cpu.data.get(i.dataId).values) as [Float32Array, Float32Array];
  const lr = attrs!['learningRate'] as number;
  sizes.push(value.length);
  return cpu.makeTensorInfo([...inputs['value']!.shape], 'float32', value.map((v, i) => Math.fround(v - Math.fround(lr * gradient[i]!))));
};

function register(maxElements?: number): void {
  tf.registerKernel({ kernelName: 'FitstreamSgdUpdate', backendName: 'cpu', kernelFunc: sgdKernel, ...(maxElements === undefined ? {} : { maxElements: () => maxElements }) } as tf.KernelConfig);
}

describe('applyOptimizerUpdate: the fused-update seam', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    if (tf.getKernel('FitstreamSgdUpdate', 'cpu')) tf.unregisterKernel('FitstreamSgdUpdate', 'cpu');
    sizes.length = 0;
  });

  it('uses the optimizer’s own update when no fused kernel is registered for the active backend', () => {
    const optimizer = tf.train.sgd(0.5);
    expect(usesFusedUpdate(optimizer)).toBe(false);
    const v = tf.variable(tf.tensor1d([1, 2]));
    const g = tf.tensor1d([1, 1]);
    applyOptimizerUpdate(optimizer, { [v.name]: g });
    expect(Array.from(v.dataSync())).toEqual([0.5, 1.5]);
    expect(optimizer.iterations).toBe(1);
    tf.dispose([v, g]);
  });

  it('runs a registered kernel up to the maxElements of its registration, and tfjs’ ops above it', () => {
    register(4);
    const optimizer = tf.train.sgd(0.5);
    expect(usesFusedUpdate(optimizer)).toBe(true);
    expect(usesFusedUpdate(tf.train.adagrad(0.1))).toBe(false);
    const small = tf.variable(tf.tensor1d([1, 2, 3]));
    const large = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]));
    const grads = { [small.name]: tf.ones([3]), [large.name]: tf.ones([5]) };
    applyOptimizerUpdate(optimizer, grads);
    expect(sizes).toEqual([3]);
    expect(Array.from(small.dataSync())).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(large.dataSync())).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
    expect(optimizer.iterations).toBe(1);
    tf.dispose([small, large, ...Object.values(grads)]);
  });

  it('takes every variable through a kernel whose registration sets no limit', () => {
    register();
    const v = tf.variable(tf.zeros([10_000]));
    const g = tf.ones([10_000]);
    applyOptimizerUpdate(tf.train.sgd(0.1), { [v.name]: g });
    expect(sizes).toEqual([10_000]);
    tf.dispose([v, g]);
  });
});
