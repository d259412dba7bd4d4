import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSeed } from '@fitstream/util';
import { createTrainer, LearningRateMultiplier, ofType, provide, selectBackend, type OptimizerName, type Plugin } from '../../index.js';
import { classificationData } from '../../test-support/fixtures.js';
import { installFrozenBatchNormInference } from '../model/frozen-batch-norm.js';

/** backbone (dense → batchNorm → dense) + head; every layer named. */
function backboneAndHead(seed = 3): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 12, activation: 'relu', name: 'b1' }),
        tf.layers.batchNormalization({ name: 'bn' }),
        tf.layers.dense({ units: 8, activation: 'relu', name: 'b2' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
      ],
    }),
  );
}

/**
 * Sets `trainable` on the chosen layers (all but the head, one layer by name, or all) and installs the frozen batch-norm
 * semantics, as `@fitstream/transfer`'s freezing helpers do: the core tests training with frozen layers without any
 * package above it. Returns the names changed.
 */
function setTrainable(model: tf.LayersModel, which: string, trainable: boolean): string[] {
  const layers = which === 'all' ? model.layers : which === 'allButHead' ? model.layers.slice(0, -1) : [model.getLayer(which)];
  for (const layer of layers) layer.trainable = trainable;
  installFrozenBatchNormInference(model);
  return layers.map((l) => l.name);
}

const valuesOf = (model: tf.LayersModel, layer: string) => model.getLayer(layer).getWeights().map((w) => Array.from(w.dataSync()));

/** A LearningRateMultiplier plugin: factor per layer-name prefix, changeable between steps. */
function factors(table: Map<string, number>): Plugin {
  return {
    name: 'test-factors',
    register: (c) => provide(c, LearningRateMultiplier, { name: 'test-factors', multiplier: (v) => table.get(v.name.split('/')[0]!) ?? 1 }),
  };
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`training with frozen layers on ${backend}`, () => {
    beforeAll(async () => {
      await selectBackend({ prefer: backend, log: null });
    });

    it.each<OptimizerName>(['adam', 'sgd', 'rmsprop', 'momentum'])(
      '%s: frozen weights (batch-norm statistics included) stay bit-identical while the head trains',
      async (optimizer) => {
        const model = backboneAndHead();
        const frozen = setTrainable(model, 'allButHead', false);
        expect(frozen).toEqual(['b1', 'bn', 'b2']);
        const before = { b1: valuesOf(model, 'b1'), bn: valuesOf(model, 'bn'), b2: valuesOf(model, 'b2'), head: valuesOf(model, 'head') };
        const trainer = createTrainer({ model, optimizer, loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null });
        const data = classificationData(64, 4, 3);
        await trainer.fit(data, { epochs: 2, batchSize: 16, handleSignals: false });
        expect(valuesOf(model, 'b1')).toEqual(before.b1);
        expect(valuesOf(model, 'bn')).toEqual(before.bn); // gamma, beta, moving mean and variance: inference mode
        expect(valuesOf(model, 'b2')).toEqual(before.b2);
        expect(valuesOf(model, 'head')).not.toEqual(before.head);
        trainer.dispose();
      },
    );

    it('an unfrozen batch-norm layer trains and updates its moving statistics; frozen, it normalizes with them', () => {
      const model = backboneAndHead();
      const x = tf.randomNormal([32, 4], 2, 3, 'float32', 1);
      const bn = model.getLayer('bn');
      const stats = () => bn.getWeights().slice(2).map((w) => Array.from(w.dataSync()));
      const start = stats();
      tf.tidy(() => { model.apply(x, { training: true }); });
      expect(stats()).not.toEqual(start);
      setTrainable(model, 'bn', false);
      const frozenStats = stats();
      const [train, infer] = tf.tidy(() => [model.apply(x, { training: true }) as tf.Tensor, model.apply(x, { training: false }) as tf.Tensor].map((t) => Array.from(t.dataSync())));
      expect(stats()).toEqual(frozenStats);
      expect(train).toEqual(infer); // no dropout in this model: the frozen BN is the only train/inference difference
      x.dispose();
    });

    it('unfreezing mid-fit keeps the optimizer state of the layers that stayed trainable (Adam moments aligned by name)', async () => {
      // Run A freezes the backbone for 3 steps, then unfreezes it. Run B trains everything from the start with the
      // backbone's learning rate at 0 for 3 steps, then 1: its backbone weights and the head's gradients and moments are
      // those of run A. At step 4 the head's update must be bit-identical in both runs — it would not be if A's head
      // took slots by position (the backbone's, or zeros).
      const data = classificationData(64, 4, 3);
      const run = async (mode: 'freeze' | 'zero-lr') => {
        const model = backboneAndHead();
        const table = new Map([['b1', 0], ['bn', 0], ['b2', 0]]);
        const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null });
        if (mode === 'freeze') {
          setTrainable(model, 'allButHead', false);
          trainer.use({ name: 'unfreeze-at-3', attach: (e$) => e$.pipe(ofType('step:end')).subscribe((e) => e.step === 3 && setTrainable(model, 'all', true)) });
        } else {
          // bn runs in inference mode in A while frozen; freeze it alone here so both runs normalise alike.
          setTrainable(model, 'bn', false);
          trainer.use(factors(table));
          trainer.use({ name: 'lr-1-at-3', attach: (e$) => e$.pipe(ofType('step:end')).subscribe((e) => {
            if (e.step === 3) {
              for (const k of table.keys()) table.set(k, 1);
              setTrainable(model, 'bn', true);
            }
          }) });
        }
        const heads: number[][][] = [];
        trainer.events$.pipe(ofType('step:end')).subscribe(() => heads.push(valuesOf(model, 'head')));
        await trainer.fit(data, { epochs: 1, batchSize: 16, shuffle: false, handleSignals: false });
        trainer.dispose();
        return heads;
      };
      const a = await run('freeze');
      const b = await run('zero-lr');
      expect(a).toHaveLength(4);
      expect(a[2]).toEqual(b[2]);
      expect(a[3]).toEqual(b[3]);
    });

    it.each<OptimizerName>(['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad', 'adamax', 'adadelta'])(
      '%s: a learning-rate multiplier scales each group’s update by its factor',
      async (optimizer) => {
        const data = classificationData(16, 4, 3);
        const step = async (table: Map<string, number>) => {
          const model = backboneAndHead();
          const before = model.layers.map((l) => valuesOf(model, l.name));
          const trainer = createTrainer({ model, optimizer, loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null }).use(factors(table));
          await trainer.fit(data, { epochs: 1, batchSize: 16, handleSignals: false });
          const after = model.layers.map((l) => valuesOf(model, l.name));
          trainer.dispose();
          return after.map((layer, i) => layer.map((w, j) => w.map((v, k) => v - before[i]![j]![k]!)));
        };
        const plain = await step(new Map());
        expect(Math.max(...plain.flat(2).map(Math.abs))).toBeGreaterThan(1e-4); // the step moved the weights
        const scaled = await step(new Map([['b1', 0.1], ['b2', 0.5], ['head', 1]]));
        const factorOf = [0.1, 1, 0.5, 1]; // b1, bn (unlisted: 1), b2, head
        scaled.forEach((layer, i) =>
          layer.forEach((w, j) =>
            w.forEach((delta, k) => {
              const expected = plain[i]![j]![k]! * factorOf[i]!;
              // Deltas are differences of float32 weights of magnitude < 2: a few ulps (≈1.2e-7 each) of slack.
              expect(Math.abs(delta - expected)).toBeLessThanOrEqual(4e-7);
            }),
          ),
        );
      },
    );

    it('a multiplier of 0 freezes a group; invalid factors are refused naming the variable', async () => {
      const model = backboneAndHead();
      const before = valuesOf(model, 'b1');
      const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null }).use(factors(new Map([['b1', 0]])));
      await trainer.fit(classificationData(32, 4, 3), { epochs: 1, batchSize: 16, handleSignals: false });
      expect(valuesOf(model, 'b1')).toEqual(before);
      trainer.dispose();
      const bad = createTrainer({ model: backboneAndHead(), optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null }).use(factors(new Map([['b2', -1]])));
      await expect(bad.fit(classificationData(32, 4, 3), { epochs: 1, batchSize: 16, handleSignals: false })).rejects.toThrow(/Learning-rate scale for variable "b2.*" is -1; it must be a finite number ≥ 0/);
    });

    it('freezing and unfreezing every epoch leaks no tensors; freezing everything is a clear error', async () => {
      const model = backboneAndHead();
      const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 4, backend: 'current', log: null });
      const counts: number[] = [];
      trainer.use({
        name: 'toggle',
        attach: (e$) =>
          e$.pipe(ofType('epoch:end')).subscribe((e) => {
            counts.push(tf.memory().numTensors);
            if (e.epoch % 2 === 0) setTrainable(model, 'allButHead', false);
            else setTrainable(model, 'all', true);
          }),
      });
      await trainer.fit(classificationData(32, 4, 3), { epochs: 6, batchSize: 16, handleSignals: false });
      // Slots are created once for every variable (parked while frozen), then the count is flat.
      expect(new Set(counts.slice(2)).size).toBe(1);
      setTrainable(model, 'all', false);
      await expect(trainer.fit(classificationData(32, 4, 3), { epochs: 1, batchSize: 16, handleSignals: false })).rejects.toThrow(/has no trainable variables; unfreeze at least one layer/);
      trainer.dispose();
    });
  });
}

afterAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});
