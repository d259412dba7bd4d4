import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, ofType, provide, readCheckpoint, selectBackend, StateProvider, WeightView, type Plugin } from '../../index.js';
import { classificationData, mlp, weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-view-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A weight view that shows every weight as zeros, counting its applications; state: a tensor "marker". */
function zerosView(model: tf.LayersModel, options: { evaluation: boolean; checkpoints: boolean }, name = 'zeros-view'): Plugin & { applied: number; marker: tf.Variable } {
  const marker = tf.variable(tf.scalar(7), false);
  const plugin = {
    name,
    applied: 0,
    marker,
    register: (c: Parameters<NonNullable<Plugin['register']>>[0]) => {
      provide(c, WeightView, {
        name,
        ...options,
        apply: () => {
          plugin.applied += 1;
          const saved = model.getWeights().map((w) => w.clone());
          model.setWeights(saved.map((w) => tf.zerosLike(w)));
          return () => {
            model.setWeights(saved);
            tf.dispose(saved);
          };
        },
      });
      provide(c, StateProvider, {
        key: name,
        getState: () => ({ applied: plugin.applied }),
        setState: () => undefined,
        getTensors: () => ({ marker }),
        setTensors: (t) => marker.assign(t['marker'] as tf.Scalar),
      });
    },
  };
  return plugin;
}

describe('WeightView and plugin tensors', () => {
  it('evaluation runs under the view; the trained weights are back afterwards, bit for bit', async () => {
    const model = mlp(3, 8, 2);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const view = zerosView(model, { evaluation: true, checkpoints: false });
    trainer.use(view);
    const data = classificationData(32, 3, 2);
    await trainer.fit(data, { epochs: 2, batchSize: 16, validation: data, handleSignals: false });
    const trained = weightsOf(model);
    const logs = await trainer.evaluate(data);
    // All-zero weights: uniform softmax, cross-entropy ln 2.
    expect(logs.loss).toBeCloseTo(Math.log(2), 6);
    expect(weightsOf(model)).toEqual(trained);
    expect(view.applied).toBe(3); // two validations and one evaluate
  });

  it('a checkpoint holds the viewed weights and the plugin tensors; subscribers of the same event never see the view', async () => {
    const model = mlp(3, 8, 2);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const view = zerosView(model, { evaluation: false, checkpoints: true });
    const path = join(dir, 'viewed');
    let seenByNext: number[][] | undefined;
    let liveAtSave: number[][] | undefined;
    trainer.use(view).use({
      name: 'save-at-epoch-end',
      attach: (e$, control) =>
        e$.pipe(ofType('epoch:end')).subscribe(() => {
          liveAtSave = weightsOf(model);
          control.await(control.saveCheckpoint(path));
        }),
    });
    trainer.use({
      name: 'next-subscriber',
      // Runs while the checkpoint above is still being written.
      attach: (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => (seenByNext = weightsOf(model))),
    });
    await trainer.fit(classificationData(32, 3, 2), { epochs: 1, batchSize: 16, handleSignals: false });
    expect(seenByNext).toEqual(liveAtSave);
    const saved = await tf.loadLayersModel(fileSystem(path));
    expect(weightsOf(saved).every((w) => w.every((v) => v === 0))).toBe(true);
    const loaded = await readCheckpoint(path);
    expect(Array.from(loaded.pluginTensors['zeros-view']!['marker']!.dataSync())).toEqual([7]);
    tf.dispose([...Object.values(loaded.weights), ...loaded.optimizerWeights.map((w) => w.tensor), ...Object.values(loaded.pluginTensors['zeros-view']!)]);
    saved.dispose();
  });

  it('a checkpoint asked for during an event holds the state once every subscriber saw it, whatever the use order, and nothing that changes while it is written', async () => {
    const model = mlp(3, 8, 2);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    const path = join(dir, 'moment');
    let atEvent: number[][] | undefined;
    let epochsSeen = 0;
    trainer.use({
      name: 'save-then-change',
      attach: (e$, control) =>
        e$.pipe(ofType('epoch:end')).subscribe(() => {
          atEvent = weightsOf(model);
          control.await(control.saveCheckpoint(path));
          // A change made after the event (as early stopping restores the best weights) must not leak into the checkpoint.
          control.await(Promise.resolve().then(() => tf.tidy(() => model.setWeights(model.getWeights().map((w) => w.add(1))))));
        }),
    });
    // A plugin added after the checkpointing one updates its state at the same event: the checkpoint holds the update.
    trainer.use({
      name: 'counter',
      register: (r) => r.provide(StateProvider, { key: 'counter', getState: () => epochsSeen, setState: () => undefined }),
      attach: (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => void (epochsSeen += 1)),
    });
    await trainer.fit(classificationData(32, 3, 2), { epochs: 1, batchSize: 16, handleSignals: false });
    const saved = await tf.loadLayersModel(fileSystem(path));
    expect(weightsOf(saved)).toEqual(atEvent);
    expect(weightsOf(model)).not.toEqual(atEvent);
    const state = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as { plugins: Record<string, unknown> };
    expect(state.plugins.counter).toBe(1);
    saved.dispose();
  });

  it('two weight views conflict at fit start, naming both', async () => {
    const model = mlp(3, 8, 2);
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    trainer.use(zerosView(model, { evaluation: true, checkpoints: false })).use(zerosView(model, { evaluation: true, checkpoints: false }, 'other-view'));
    await expect(trainer.fit(classificationData(16, 3, 2), { epochs: 1, batchSize: 16, handleSignals: false })).rejects.toThrow(/Plugins "zeros-view" and "other-view" both claim "weight-view"/);
  });
});
