// Every path of applyOptimizerUpdate leaves tf.memory().numTensors flat across steps: the optimizer's own update,
// the op-for-op path (centered RMSProp), the scaled paths, and a fused kernel (a stand-in registered on cpu); and
// disposing the optimizer frees every slot the updates created.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyOptimizerUpdate, disposeOptimizer, FUSED_UPDATE_KERNELS, OPTIMIZER_NAMES, resolveOptimizer, usesFusedUpdate, type LearningRateScale } from '../index.js';

interface CpuStorage {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

/** A stand-in fused momentum update on cpu: two outputs (value, accumulation), as the wasm kernel returns. */
const momentumKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as unknown as CpuStorage;
  const [value, gradient, acc] = ['value', 'gradient', 'acc'].map((k) => cpu.data.get(inputs[k]!.dataId).values) as [Float32Array, Float32Array, Float32Array];
  const { momentum, learningRate } = attrs as { momentum: number; learningRate: number };
  const newAcc = acc.map((a, i) => Math.fround(momentum * a + gradient[i]!));
  const newValue = value.map((v, i) => Math.fround(v - learningRate * newAcc[i]!));
  const shape = [...inputs['value']!.shape];
  return [cpu.makeTensorInfo(shape, 'float32', newValue), cpu.makeTensorInfo(shape, 'float32', newAcc)];
};

type Case = [label: string, make: () => tf.Optimizer, scale?: LearningRateScale];
const cases: Case[] = [
  ...OPTIMIZER_NAMES.map((name): Case => [name, () => resolveOptimizer(name).optimizer]),
  ['centered rmsprop (op-for-op path)', () => tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7, true)],
  ['adam, scaled (stock update, scaled step)', () => tf.train.adam(0.01), (name) => (name.endsWith('bias') ? 0.5 : 1)],
  ['centered rmsprop, scaled (op-for-op path)', () => tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7, true), (name) => (name.endsWith('bias') ? 0 : 2)],
];

describe('applyOptimizerUpdate leaks no tensor', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    if (tf.getKernel(FUSED_UPDATE_KERNELS.momentum, 'cpu')) tf.unregisterKernel(FUSED_UPDATE_KERNELS.momentum, 'cpu');
  });

  function stepsKeepTensorsFlat(make: () => tf.Optimizer, scale?: LearningRateScale): void {
    const kernel = tf.variable(tf.tensor2d([1, -2, 3, 0.5, 0.25, -1], [2, 3]), true, `leak/${tf.util.now()}/kernel`);
    const bias = tf.variable(tf.tensor1d([0.1, 0.2, 0.3]), true, `${kernel.name}/bias`);
    const grads = { [kernel.name]: tf.tensor2d([0.5, -1, 2, 1e-4, 3, -0.25], [2, 3]), [bias.name]: tf.tensor1d([1, -1, 0.5]) };
    const baseline = tf.memory().numTensors;
    const optimizer = make();
    applyOptimizerUpdate(optimizer, grads, scale); // creates the slots
    const afterFirst = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) {
      applyOptimizerUpdate(optimizer, grads, scale);
      expect(tf.memory().numTensors).toBe(afterFirst);
    }
    expect(optimizer.iterations).toBe(6);
    expect(Array.from(kernel.dataSync()).every(Number.isFinite)).toBe(true);
    // tfjs 4.22's MomentumOptimizer.dispose forgets the −lr scalar its SGD base class caches; disposeOptimizer frees it.
    disposeOptimizer(optimizer);
    expect(tf.memory().numTensors).toBe(baseline);
    tf.dispose([kernel, bias, ...Object.values(grads)]);
  }

  it.each(cases)('%s', (_label, make, scale) => {
    stepsKeepTensorsFlat(make, scale);
  });

  it('through a fused kernel with several outputs, scaled or not', () => {
    tf.registerKernel({ kernelName: FUSED_UPDATE_KERNELS.momentum, backendName: 'cpu', kernelFunc: momentumKernel });
    const make = (): tf.Optimizer => tf.train.momentum(0.01, 0.9);
    const probe = make();
    expect(usesFusedUpdate(probe)).toBe(true);
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(false);
    stepsKeepTensorsFlat(make);
    stepsKeepTensorsFlat(make, (name) => (name.endsWith('bias') ? 0.1 : 1));
    probe.dispose();
  });
});

describe('disposeOptimizer', () => {
  it('frees every tensor an optimizer of each name holds, momentum included (tfjs alone leaks its −lr scalar)', async () => {
    await tf.setBackend('cpu');
    for (const name of OPTIMIZER_NAMES) {
      const v = tf.variable(tf.tensor1d([1, 2, 3]), true, `dispose/${name}/${tf.util.now()}`);
      const grads = { [v.name]: tf.tensor1d([0.1, -0.2, 0.3]) };
      const baseline = tf.memory().numTensors;
      const optimizer = resolveOptimizer(name).optimizer;
      applyOptimizerUpdate(optimizer, grads);
      disposeOptimizer(optimizer);
      expect(tf.memory().numTensors, name).toBe(baseline);
      tf.dispose([v, ...Object.values(grads)]);
    }
  });
});
