// @fitstream/core loads this package dynamically (an optional peer it never imports): with the package installed, its
// selectBackend installs these kernels on wasm and its trainer's optimizer step finds the fused updates by name.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, usesFusedUpdate } from '@fitstream/core';
import { uninstallCpuKernels, uninstallWasmKernels } from '../index.js';

describe("@fitstream/core's selectBackend with this package installed", () => {
  it('installs the kernels on wasm and logs the usual line', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: ['tensorflow-gpu', 'wasm'], log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'wasm', wasmKernelsMissing: undefined });
    expect(selection.wasmKernels?.registered).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'FitstreamAdamUpdate']));
    expect(selection.wasmKernels?.replaced).toEqual(expect.arrayContaining(['BatchMatMul', 'MaxPoolGrad']));
    expect(lines).toEqual(['fitstream: backend wasm (skipped tensorflow-gpu: not installed)']);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(true);
  });

  it('passes the kernel groups through', async () => {
    uninstallWasmKernels(tf);
    const selection = await selectBackend({ prefer: ['wasm'], wasmKernels: { optimizerUpdates: false }, log: null });
    expect(selection.wasmKernels?.registered).toContain('Conv2DBackpropFilter');
    expect(selection.wasmKernels?.registered).not.toContain('FitstreamAdamUpdate');
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(false);
  });

  it('installs the cpu kernels on cpu (gather, fused updates), with the usual line; cpuKernels: false keeps the stock ones', async () => {
    const stockGather = tf.getKernel('GatherV2', 'cpu')?.kernelFunc;
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: 'cpu', log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'cpu', wasmKernels: undefined, wasmKernelsMissing: undefined });
    expect(selection.cpuKernels).toEqual({ registered: ['FitstreamAdamUpdate', 'FitstreamRMSPropUpdate', 'FitstreamMomentumUpdate', 'FitstreamSgdUpdate'], replaced: ['GatherV2'] });
    expect(lines).toEqual(['fitstream: backend cpu']);
    expect(tf.getKernel('GatherV2', 'cpu')?.kernelFunc).not.toBe(stockGather);
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(true);

    uninstallCpuKernels(tf);
    const stock = await selectBackend({ prefer: 'cpu', cpuKernels: false, log: null });
    expect(stock.cpuKernels).toBeUndefined();
    expect(tf.getKernel('GatherV2', 'cpu')?.kernelFunc).toBe(stockGather);
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(false);
  });
});
