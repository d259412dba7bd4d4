import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { backendReport, selectBackend } from '../index.js';
import { NATIVE_BACKEND } from '../test-support/native-backend.js';
import { activateCandidate, CandidateUnavailable } from './candidates.js';
import { defaultWasmThreads } from './environment.js';

describe('backendReport under Node.js', () => {
  it('lists every candidate with its availability and reason, says what auto would pick, and is plain JSON', async () => {
    await selectBackend({ prefer: 'cpu', log: null });
    const report = await backendReport();
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(report).toMatchObject({
      platform: 'node',
      active: 'cpu',
      autoOrder: ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
      auto: NATIVE_BACKEND === 'available' ? 'tensorflow' : 'wasm',
      wasm: { threadsPossible: false, defaultThreads: 1, threadsInUse: 1 },
      webgpu: { navigatorGpu: false, adapter: null },
    });
    const byName = Object.fromEntries(report.candidates.map((c) => [c.backend, c]));
    expect(Object.keys(byName)).toEqual(['tensorflow-gpu', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu']);
    expect(byName['tensorflow-gpu']).toMatchObject({ available: false, reason: 'not installed', fix: expect.stringMatching(/native install --gpu/) });
    expect(byName['webgpu']).toEqual({ backend: 'webgpu', available: false, reason: 'a browser backend: WebGPU exists only in a web page or worker, not under Node.js', fix: 'under Node.js use tensorflow (tfjs-node) or wasm' });
    expect(byName['webgl']).toMatchObject({ available: false, reason: expect.stringMatching(/WebGL exists only in a web page/) });
    expect(byName['wasm']).toEqual({ backend: 'wasm', available: true, reason: 'initialised; 1 thread', fix: null });
    expect(byName['cpu']).toEqual({ backend: 'cpu', available: true, reason: 'initialised', fix: null });
  });

  it('leaves the active backend as it was', async () => {
    await selectBackend({ prefer: 'wasm', log: null });
    const before = tf.memory().numTensors;
    const report = await backendReport({ candidates: ['cpu', 'webgl'] });
    expect(report.candidates.map((c) => [c.backend, c.available])).toEqual([['cpu', true], ['webgl', false]]);
    expect(report.active).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('backend candidates across platforms', () => {
  it('refuses the native backends in a page with the reason and what to use there', async () => {
    const wasm = { threads: 1, wasmPaths: undefined };
    for (const candidate of ['tensorflow', 'tensorflow-gpu'] as const) {
      const refusal = activateCandidate(candidate, 'browser', wasm);
      await expect(refusal).rejects.toBeInstanceOf(CandidateUnavailable);
      await expect(refusal).rejects.toMatchObject({
        message: expect.stringMatching(/^needs Node\.js: @tensorflow\/tfjs-node(-gpu)? is a native addon, which a web page cannot load$/),
        fix: "in a web page use webgpu, webgl, wasm or cpu (or prefer: 'auto')",
      });
    }
  });

  it('gives wasm threads by default only in a cross-origin-isolated page: min(cores, 4)', () => {
    const isolated = { crossOriginIsolated: true, sharedArrayBuffer: true, hardwareConcurrency: 8 };
    expect(defaultWasmThreads('browser', isolated)).toBe(4);
    expect(defaultWasmThreads('browser', { ...isolated, hardwareConcurrency: 2 })).toBe(2);
    expect(defaultWasmThreads('browser', { ...isolated, hardwareConcurrency: null })).toBe(1);
    expect(defaultWasmThreads('browser', { ...isolated, crossOriginIsolated: false })).toBe(1);
    expect(defaultWasmThreads('browser', { ...isolated, sharedArrayBuffer: false })).toBe(1);
    expect(defaultWasmThreads('node', isolated)).toBe(1);
  });
});
