import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels } from '@fitstream/backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { startKernelTiming } from './kernel-timing.js';

describe('startKernelTiming', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    installWasmKernels(tf);
  });

  it('counts every dispatched kernel by name, times them, and restores the kernel functions', () => {
    const before = new Map(tf.getKernelsForBackend('wasm').map((c) => [c.kernelName, c.kernelFunc]));
    const timing = startKernelTiming(tf, 'wasm');
    try {
      tf.tidy(() => tf.add(tf.matMul(tf.ones([4, 3]), tf.ones([3, 2])), 1).dataSync());
    } finally {
      timing.stop();
    }
    const { dispatches, kernelMs, byKernel } = timing.totals();
    expect(byKernel.get('BatchMatMul')?.calls).toBe(1);
    expect(byKernel.get('Add')?.calls).toBe(1);
    expect(dispatches).toBe([...byKernel.values()].reduce((n, e) => n + e.calls, 0));
    expect(kernelMs).toBeGreaterThan(0);
    for (const config of tf.getKernelsForBackend('wasm')) expect(config.kernelFunc, config.kernelName).toBe(before.get(config.kernelName));
    // installWasmKernels still recognises its registrations (they were wrapped in place, not replaced).
    expect(installWasmKernels(tf).replaced).toContain('BatchMatMul');
  });

  it('reset zeroes the totals; kernels run after stop are not counted', () => {
    const timing = startKernelTiming(tf, 'wasm');
    tf.tidy(() => tf.relu(tf.ones([2])));
    timing.reset();
    expect(timing.totals().dispatches).toBe(0);
    timing.stop();
    tf.tidy(() => tf.relu(tf.ones([2])));
    expect(timing.totals().dispatches).toBe(0);
  });
});
