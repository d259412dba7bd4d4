// Core without @fitstream/backend-wasm: this file makes that package unloadable (as for a user who did not install
// it); the workspace has it, so every other test file trains with it.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { createTrainer, ofType, selectBackend, usesFusedUpdate } from '../../index.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';
import { withSeed } from '@fitstream/util';
import type * as OptionalPackage from './optional-package.js';

vi.mock('./optional-package.js', async (importOriginal) => {
  const actual = await importOriginal<typeof OptionalPackage>();
  return {
    ...actual,
    importOptional: (name: string) =>
      name === '@fitstream/backend-wasm'
        ? Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from select-backend.js`), { code: 'ERR_MODULE_NOT_FOUND' }))
        : actual.importOptional(name),
  };
});

const NOTE = "fitstream's wasm training kernels not installed: stock kernels, no conv/depthwise/embedding gradients, slower backward pass; npm install @fitstream/backend-wasm";

describe('selectBackend without @fitstream/backend-wasm', () => {
  it('selects wasm with the stock kernels, and the log line and the selection say how to install fitstream’s', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: ['tensorflow-gpu', 'wasm'], log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'wasm', wasmKernels: undefined, wasmKernelsMissing: { reason: 'not installed', fix: 'npm install @fitstream/backend-wasm' } });
    expect(lines).toEqual([`fitstream: backend wasm (skipped tensorflow-gpu: not installed); ${NOTE}`]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(false);
  });

  it('says nothing about the kernels when they are turned off, or on another backend', async () => {
    const off = await selectBackend({ prefer: ['wasm'], wasmKernels: false, log: null });
    expect(off).toMatchObject({ backend: 'wasm', message: 'fitstream: backend wasm', wasmKernels: undefined, wasmKernelsMissing: undefined });
    const cpu = await selectBackend({ prefer: 'cpu', log: null });
    expect(cpu).toMatchObject({ message: 'fitstream: backend cpu', wasmKernelsMissing: undefined });
  });

  it('trains an MLP on the stock wasm kernels', async () => {
    const lines: string[] = [];
    const data = classificationData(64, 4, 3);
    const trainer = createTrainer({ model: mlp(4, 8, 3), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'wasm', log: (l) => lines.push(l) });
    const result = await trainer.fit(data, { epochs: 2, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'completed', backend: 'wasm' });
    expect(Number.isFinite(result.final?.loss)).toBe(true);
    expect(lines).toEqual([`fitstream: backend wasm; ${NOTE}`]);
    trainer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('fails a conv layer’s gradient with an error that names the package (and fit:end carries it)', async () => {
    const model = withSeed(2, () =>
      tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [8, 2], filters: 3, kernelSize: 3 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] }),
    );
    const x = tf.randomNormal([8, 8, 2]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1], 'int32'), 2).toFloat();
    const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'wasm', log: null });
    let ended: string | undefined;
    trainer.events$.pipe(ofType('fit:end')).subscribe((e) => (ended = e.error?.message));
    const fit = trainer.fit({ x, y }, { epochs: 1, batchSize: 8, handleSignals: false });
    const expected = /The wasm backend has no 'Conv2DBackpropFilter' kernel.*npm install @fitstream\/backend-wasm/;
    await expect(fit).rejects.toThrow(expected);
    await expect(fit.catch((e: Error) => e.cause)).resolves.toMatchObject({ message: "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'" });
    expect(ended).toMatch(expected);
    trainer.dispose();
    tf.dispose([x, y]);
  });

  // Last in this file: the module given is kept for every later selection.
  it('installs the kernels from the module passed as wasmKernelsModule (what a page does, where import by name fails)', async () => {
    const kernels = await import('@fitstream/backend-wasm');
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: 'wasm', wasmKernelsModule: kernels, log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'wasm', wasmKernelsMissing: undefined, wasmKernels: { registered: expect.arrayContaining(['Conv2DBackpropFilter']) } });
    expect(lines).toEqual(['fitstream: backend wasm']);
    // A later selection without the option (the trainer's) still has them.
    await expect(selectBackend({ prefer: ['wasm'], log: null })).resolves.toMatchObject({ wasmKernelsMissing: undefined });
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    kernels.uninstallWasmKernels(tf);
  });
});
