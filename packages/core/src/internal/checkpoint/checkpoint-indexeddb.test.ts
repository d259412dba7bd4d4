// Exact resume from an IndexedDB checkpoint (fake-indexeddb, a complete in-memory implementation of the IndexedDB spec,
// stands in for a browser's here). The stores themselves are tested in @fitstream/checkpoint.
import 'fake-indexeddb/auto';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend, type Plugin } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const data = () => classificationData(48, 3, 2);
const newTrainer = () => createTrainer({ model: mlp(3, 8, 2, 4), optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 11, backend: 'current', log: null });

/** A plugin that saves a checkpoint at the end of epoch `at` and stops the fit there. */
const saveAndStop = (location: string, at: number): Plugin => ({
  name: 'save-and-stop',
  attach: (events$, control) =>
    events$.pipe(ofType('epoch:end')).subscribe((e) => {
      if (e.epoch !== at) return;
      control.await(control.saveCheckpoint(location));
      control.stop('interrupted');
    }),
});

describe('IndexedDB checkpoints (indexeddb://)', () => {
  it('a fit resumed from IndexedDB ends exactly where the uninterrupted one does: weights, history, numTensors', async () => {
    const whole = newTrainer();
    const expected = await whole.fit(data(), { epochs: 4, batchSize: 8, handleSignals: false });

    const first = newTrainer().use(saveAndStop('indexeddb://resume/backup', 1));
    await first.fit(data(), { epochs: 4, batchSize: 8, handleSignals: false });
    const resumeOnce = async () => {
      const tensors = tf.memory().numTensors;
      const resumed = newTrainer();
      let resumedFrom: string | undefined;
      resumed.events$.pipe(ofType('fit:start')).subscribe((e) => (resumedFrom = e.resumedFrom));
      const result = await resumed.fit(data(), { epochs: 4, batchSize: 8, handleSignals: false, resumeFrom: 'indexeddb://resume/backup' });
      expect(resumedFrom).toBe('indexeddb://resume/backup');
      expect(weightsOf(resumed.options.model as tf.LayersModel)).toEqual(weightsOf(whole.options.model as tf.LayersModel));
      expect(result.history).toEqual(expected.history);
      return tf.memory().numTensors - tensors;
    };
    // What a resume keeps (the new model's weights and optimizer slots) is the same each time: reading leaks nothing.
    expect(await resumeOnce()).toBe(await resumeOnce());
  });

});
