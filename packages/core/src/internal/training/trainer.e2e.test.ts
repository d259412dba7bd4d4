import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend } from '../../index.js';
import { irisSplit, mlp } from '../../test-support/fixtures.js';

describe('end to end: the real Iris data', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: null });
  });

  it('trains an MLP to ≥ 0.93 validation accuracy with a fixed seed', async () => {
    const { train, validation } = irisSplit();
    const model = mlp(4, 16, 3, 11);
    const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: 0.02 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 42, backend: 'current', log: null });
    const epochs: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => epochs.push(e.metrics.val_accuracy ?? Number.NaN));
    const result = await trainer.fit(train, { epochs: 60, batchSize: 16, validation, handleSignals: false });
    expect(result.reason).toBe('completed');
    expect(epochs).toHaveLength(60);
    expect(result.final?.val_accuracy).toBeGreaterThanOrEqual(0.93);
    expect(result.final?.accuracy).toBeGreaterThanOrEqual(0.93);
    trainer.dispose();
    model.dispose();
    tf.dispose([train.x, train.y, validation.x, validation.y]);
  });
});
