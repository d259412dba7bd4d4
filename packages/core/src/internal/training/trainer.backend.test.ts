// The trainer and backend selection (@fitstream/backends), without @fitstream/backend-wasm: this file makes that
// package fail to load (as for a user who did not install it); the workspace has it, so every other test file trains
// with it. What selectBackend itself says (the exact "not installed" line) is @fitstream/backends' test.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it, vi } from 'vitest';
import { withSeed } from '@fitstream/util';
import { createTrainer, ofType, usesFusedUpdate } from '../../index.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';

// selectBackend's dynamic import of the package goes through vitest's module runner, so this mock reaches it; vitest
// wraps the factory's error in its own, so the log line gives vitest's words as the reason instead of "not installed".
vi.mock('@fitstream/backend-wasm', () => {
  throw new Error("Cannot find package '@fitstream/backend-wasm'");
});

const NOTE = /^fitstream: backend wasm; fitstream's wasm training kernels .+: stock kernels, no conv\/depthwise\/embedding gradients, slower backward pass; npm install @fitstream\/backend-wasm$/;

describe('the trainer and backend selection', () => {
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
    trainer.dispose();
  });
});

describe('the trainer without @fitstream/backend-wasm', () => {
  it('trains an MLP on the stock wasm kernels, and its log line says how to install fitstream’s', async () => {
    const lines: string[] = [];
    const data = classificationData(64, 4, 3);
    const trainer = createTrainer({ model: mlp(4, 8, 3), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'wasm', log: (l) => lines.push(l) });
    const result = await trainer.fit(data, { epochs: 2, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'completed', backend: 'wasm' });
    expect(Number.isFinite(result.final?.loss)).toBe(true);
    expect(lines).toEqual([expect.stringMatching(NOTE)]);
    expect(usesFusedUpdate(tf.train.adam(0.01))).toBe(false);
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
});
