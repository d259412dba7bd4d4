// selectBackend without @fitstream/backend-wasm: this file makes that package unloadable (as for a user who did not
// install it); the workspace has it, so every other test file selects wasm with it. Training without it is core's
// test (trainer.without-backend-wasm.test.ts).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { selectBackend } from '../index.js';
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
    expect(tf.getKernel('FitstreamAdamUpdate', 'wasm')).toBeUndefined();
  });

  it('says nothing about the kernels when they are turned off, or on another backend', async () => {
    const off = await selectBackend({ prefer: ['wasm'], wasmKernels: false, log: null });
    expect(off).toMatchObject({ backend: 'wasm', message: 'fitstream: backend wasm', wasmKernels: undefined, wasmKernelsMissing: undefined });
    const cpu = await selectBackend({ prefer: 'cpu', log: null });
    expect(cpu).toMatchObject({ message: 'fitstream: backend cpu', wasmKernelsMissing: undefined });
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
