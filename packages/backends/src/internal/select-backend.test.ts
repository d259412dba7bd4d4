import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FitstreamInputError } from '@fitstream/util';
import { selectBackend } from '../index.js';
import { NATIVE_BACKEND } from '../test-support/native-backend.js';
import { assertWasmThreads } from './select-backend.js';

describe('selectBackend', () => {
  it('falls back visibly: the reason for each skipped backend, and one log line', async () => {
    const lines: string[] = [];
    // tfjs-node-gpu is not installed on the test machines; the native CPU build may be (it is in CI).
    const selection = await selectBackend({ prefer: ['tensorflow-gpu', 'wasm', 'cpu'], log: (l) => lines.push(l) });
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.fallbacks).toEqual([
      { backend: 'tensorflow-gpu', reason: 'not installed', fix: expect.stringMatching(/tensorflow\[and-cuda\].*npx fitstream native install --gpu/) },
    ]);
    expect(lines).toEqual(['fitstream: backend wasm (skipped tensorflow-gpu: not installed)']);
  });

  it.skipIf(NATIVE_BACKEND === 'available')(`says how to build the native backend when it is missing (${NATIVE_BACKEND})`, async () => {
    const selection = await selectBackend({ prefer: ['tensorflow', 'cpu'], log: null });
    expect(selection.fallbacks).toEqual([{ backend: 'tensorflow', reason: 'not installed', fix: expect.stringMatching(/pip install tensorflow-cpu && npx fitstream native install/) }]);
  });

  it.skipIf(NATIVE_BACKEND !== 'available')(`auto prefers the native backend once it is built (${NATIVE_BACKEND})`, async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'tensorflow', candidate: 'tensorflow' });
    expect(selection.fallbacks.map((f) => f.backend)).toEqual(['tensorflow-gpu']);
    expect(lines).toEqual(['fitstream: backend tensorflow (skipped tensorflow-gpu: not installed)']);
    // TensorFlow's INFO lines (oneDNN, CPU features) are dropped unless the user set the level.
    expect(process.env['TF_CPP_MIN_LOG_LEVEL']).toBeDefined();
  });

  it('honours an explicit choice and logs it without fallbacks', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: 'cpu', log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'cpu', fallbacks: [] });
    expect(lines).toEqual(['fitstream: backend cpu']);
  });

  it('threads: accepts 1, refuses more under Node with the reason, and rejects nonsense', async () => {
    await expect(selectBackend({ prefer: 'wasm', threads: 1, log: null })).resolves.toMatchObject({ backend: 'wasm' });
    await expect(selectBackend({ prefer: 'wasm', threads: 2, log: null })).rejects.toThrow(
      /threads: 2 is not available under Node\.js\. tfjs-backend-wasm 4\.22 .*#3830.*ERR_WORKER_PATH.*threads: 1/,
    );
    await expect(selectBackend({ prefer: 'wasm', threads: 0, log: null })).rejects.toThrow(RangeError);
    expect(() => assertWasmThreads(1.5)).toThrow(/whole number ≥ 1, got 1\.5/);
    const isolated = { crossOriginIsolated: true, sharedArrayBuffer: true, hardwareConcurrency: 8 };
    expect(() => assertWasmThreads(4, false, isolated)).not.toThrow();
    // In a page without cross-origin isolation there is no SharedArrayBuffer, hence no wasm threads.
    expect(() => assertWasmThreads(4, false, { ...isolated, crossOriginIsolated: false, sharedArrayBuffer: false })).toThrow(
      /threads: 4 needs SharedArrayBuffer.*not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*Cross-Origin-Embedder-Policy: require-corp.*threads: 1/,
    );
    expect(() => assertWasmThreads(1, false, { ...isolated, crossOriginIsolated: false })).not.toThrow();
  });

  it('refuses unknown backend names, naming the option and the names it takes', async () => {
    const unknown = selectBackend({ prefer: 'metal' as 'cpu', log: null });
    await expect(unknown).rejects.toBeInstanceOf(FitstreamInputError);
    await expect(unknown).rejects.toThrow(/^options\.prefer: Unknown backend "metal"; use one of tensorflow-gpu, tensorflow, webgpu, webgl, wasm, cpu or 'auto'\.$/);
  });

  it('treats browser backends asked for under Node.js as fallbacks with the reason, never as a crash', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: ['webgpu', 'webgl', 'cpu'], log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'cpu', candidate: 'cpu' });
    expect(selection.fallbacks).toEqual([
      { backend: 'webgpu', reason: 'a browser backend: WebGPU exists only in a web page or worker, not under Node.js', fix: 'under Node.js use tensorflow (tfjs-node) or wasm' },
      { backend: 'webgl', reason: 'a browser backend: WebGL exists only in a web page or worker, not under Node.js', fix: 'under Node.js use tensorflow (tfjs-node) or wasm' },
    ]);
    expect(lines).toEqual([
      'fitstream: backend cpu (skipped webgpu: a browser backend: WebGPU exists only in a web page or worker, not under Node.js; webgl: a browser backend: WebGL exists only in a web page or worker, not under Node.js)',
    ]);
    await expect(selectBackend({ prefer: 'webgl', log: null })).rejects.toThrow(/No tfjs backend could be initialised: webgl: a browser backend/);
  });

  it('wasm reports its threads (1 under Node.js) and keeps the Node log line unchanged', async () => {
    const lines: string[] = [];
    const selection = await selectBackend({ prefer: 'wasm', log: (l) => lines.push(l) });
    expect(selection).toMatchObject({ backend: 'wasm', wasmThreads: 1 });
    expect(lines).toEqual(['fitstream: backend wasm']);
  });
});
