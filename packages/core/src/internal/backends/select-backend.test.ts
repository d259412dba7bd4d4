import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend } from '../../index.js';
import { NATIVE_BACKEND } from '../../test-support/backends.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';
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
    expect(() => assertWasmThreads(4, false)).not.toThrow();
  });

  it('refuses unknown backend names', async () => {
    await expect(selectBackend({ prefer: 'webgpu' as 'cpu', log: null })).rejects.toThrow(/Unknown backend "webgpu"/);
  });

  it('reports the selection in the trainer stream before fit:start', async () => {
    const trainer = createTrainer({ model: mlp(3, 4, 2), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: ['tensorflow-gpu', 'wasm'], log: null });
    const events: string[] = [];
    let fallbacks: readonly { backend: string }[] = [];
    trainer.events$.subscribe((e) => events.push(e.type));
    trainer.events$.pipe(ofType('backend:selected')).subscribe((e) => (fallbacks = e.fallbacks));
    const result = await trainer.fit(classificationData(8, 3, 2), { epochs: 1, batchSize: 8, handleSignals: false });
    expect(events.slice(0, 2)).toEqual(['backend:selected', 'fit:start']);
    expect(fallbacks.map((f) => f.backend)).toEqual(['tensorflow-gpu']);
    expect(result.backend).toBe('wasm');
  });
});
