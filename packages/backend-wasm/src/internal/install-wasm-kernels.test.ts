import { beforeAll, describe, expect, it } from 'vitest';
import { installWasmKernels, uninstallWasmKernels } from './install-wasm-kernels.js';
import { tf } from '../test-support/wasm-kernel-harness.js';

const MISSING = [
  'Conv2DBackpropFilter',
  'UnsortedSegmentSum',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  // fitstream's own kernels: fused optimizer updates
  'FitstreamAdamUpdate',
  'FitstreamRMSPropUpdate',
  'FitstreamMomentumUpdate',
  'FitstreamSgdUpdate',
  'FitstreamClipByValueGrad',
  // one kernel per dense-step chain (stepFusions)
  'FitstreamReluGrad',
  'FitstreamSoftmaxGrad',
  'FitstreamBiasGrad',
  'FitstreamCategoricalCrossentropy',
  'FitstreamCategoricalCrossentropyGrad',
  'FitstreamCategoricalAccuracy',
  'FitstreamDenseBiasActivation',
  // whole-sequence LSTM / GRU (recurrentLayers)
  'FitstreamLSTMSequence',
  'FitstreamLSTMSequenceGrad',
  'FitstreamGRUSequence',
  'FitstreamGRUSequenceGrad',
  // a conv layer's bias and relu in training (convForward)
  'FitstreamConv2DBiasActivation',
  'FitstreamReluBiasGrad',
  // batch normalisation in training (batchNormTraining)
  'FitstreamBatchNormTrain',
  'FitstreamBatchNormTrainGrad',
];
const REPLACED = ['BatchMatMul', '_FusedMatMul', 'Conv2D', 'Conv2DBackpropInput', 'MaxPool', 'MaxPoolGrad', 'GatherV2', 'Slice', 'Identity', 'Cast', 'Tile', 'Sum', 'Add'];
const ALL = [...REPLACED, ...MISSING];

function snapshot(backend: string): Map<string, tf.KernelConfig | undefined> {
  return new Map(ALL.map((name) => [name, tf.getKernel(name, backend) as tf.KernelConfig | undefined]));
}

describe('installWasmKernels', () => {
  let native: Map<string, tf.KernelConfig | undefined>;
  let cpu: Map<string, tf.KernelConfig | undefined>;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    native = snapshot('wasm');
    cpu = snapshot('cpu');
  });

  it('starts from the stock tfjs-backend-wasm 4.22 registry', () => {
    for (const name of MISSING) expect(native.get(name), name).toBeUndefined();
    for (const name of REPLACED) expect(native.get(name), name).toBeDefined();
  });

  it('registers the missing kernels and replaces the slow ones, once', () => {
    const first = installWasmKernels(tf);
    expect([...first.registered].sort()).toEqual([...MISSING].sort());
    expect([...first.replaced].sort()).toEqual([...REPLACED].sort());
    const installed = snapshot('wasm');
    for (const name of ALL) expect(installed.get(name)?.kernelFunc, name).not.toBe(native.get(name)?.kernelFunc);

    const second = installWasmKernels(tf);
    expect(second).toEqual(first);
    const again = snapshot('wasm');
    for (const name of ALL) expect(again.get(name), name).toBe(installed.get(name));
    uninstallWasmKernels(tf);
  });

  it('keeps the original setup hook on replaced kernels', () => {
    installWasmKernels(tf);
    for (const name of REPLACED) {
      expect(tf.getKernel(name, 'wasm').setupFunc, name).toBe(native.get(name)?.setupFunc);
    }
    uninstallWasmKernels(tf);
  });

  it('restores the exact original configs on uninstall, and can install again', () => {
    installWasmKernels(tf);
    const removed = uninstallWasmKernels(tf);
    expect(removed.replaced.length + removed.registered.length).toBe(ALL.length);
    const restored = snapshot('wasm');
    for (const name of ALL) expect(restored.get(name), name).toBe(native.get(name));
    expect(uninstallWasmKernels(tf)).toEqual({ registered: [], replaced: [] });

    expect(installWasmKernels(tf).registered).toHaveLength(MISSING.length);
    uninstallWasmKernels(tf);
  });

  it('installs only the requested groups, and later calls can add groups', () => {
    const onlyEmbedding = installWasmKernels(tf, {
      matMulTranspose: false,
      convGradients: false,
      convForward: false,
      depthwiseGradients: false,
      poolGradients: false,
      stepFusions: false,
      batchCopies: false,
      optimizerUpdates: false,
      recurrentLayers: false,
      sharedIdentity: false,
      activationGradients: false,
      broadcastKernels: false,
      batchNormTraining: false,
    });
    expect(onlyEmbedding).toEqual({ registered: ['UnsortedSegmentSum'], replaced: [] });
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(native.get('BatchMatMul'));

    const withMatMul = installWasmKernels(tf, { convGradients: false, convForward: false, depthwiseGradients: false, poolGradients: false, stepFusions: false, batchCopies: false, optimizerUpdates: false, sharedIdentity: false, activationGradients: false, broadcastKernels: false, batchNormTraining: false });
    expect(withMatMul.replaced.sort()).toEqual(['BatchMatMul', '_FusedMatMul']);
    uninstallWasmKernels(tf);
  });

  it('never touches another backend', () => {
    installWasmKernels(tf);
    const after = snapshot('cpu');
    for (const name of ALL) expect(after.get(name), name).toBe(cpu.get(name));
    uninstallWasmKernels(tf);
  });

  it('leaves a kernel someone re-registered after it alone on uninstall', () => {
    installWasmKernels(tf);
    const foreign: tf.KernelConfig = {
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: () => {
        throw new Error('foreign');
      },
    };
    tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
    tf.registerKernel(foreign);
    uninstallWasmKernels(tf);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBe(foreign);
    tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
  });

  it('throws a clear error when the wasm backend is not initialised', () => {
    const engineWith = (registry: object, registryFactory: object) =>
      ({ engine: () => ({ registry, registryFactory }) }) as unknown as typeof tf;
    expect(() => installWasmKernels(engineWith({}, { wasm: {} }))).toThrow(/registered but not initialised/);
    expect(() => installWasmKernels(engineWith({}, {}))).toThrow(/no 'wasm' backend is registered/);
  });
});
