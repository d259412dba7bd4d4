import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, selectBackend } from '@fitstream/core';
import { withSeed } from '@fitstream/util';
import { freezeLayers, modelLayers, selectLayers, unfreezeLayers } from '../index.js';
import { classificationData } from '../test-support/fixtures.js';

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

const valuesOf = (model: tf.LayersModel, layer: string) => model.getLayer(layer).getWeights().map((w) => Array.from(w.dataSync()));

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`freezing on ${backend}`, () => {
    beforeAll(async () => {
      await selectBackend({ prefer: backend, log: null });
    });

    it('selectors: index, name, RegExp, first/last/allButLast, ranges, arrays, predicates; no match is an error', () => {
      const model = backboneAndHead();
      const names = (s: Parameters<typeof selectLayers>[1]) => selectLayers(model, s).map((l) => l.name);
      expect(modelLayers(model).map((l) => l.name)).toEqual(['b1', 'bn', 'b2', 'head']);
      expect(names(0)).toEqual(['b1']);
      expect(names(-1)).toEqual(['head']);
      expect(names('bn')).toEqual(['bn']);
      expect(names(/^b\d$/)).toEqual(['b1', 'b2']);
      expect(names({ allButLast: 1 })).toEqual(['b1', 'bn', 'b2']);
      expect(names({ last: 2 })).toEqual(['b2', 'head']);
      expect(names({ first: 1 })).toEqual(['b1']);
      expect(names({ from: 'bn', to: -2 })).toEqual(['bn', 'b2']);
      expect(names(['head', 0])).toEqual(['b1', 'head']);
      expect(names('all')).toHaveLength(4);
      expect(names((l) => l.getClassName() === 'Dense')).toEqual(['b1', 'b2', 'head']);
      expect(() => selectLayers(model, /^nope/)).toThrow(/selector: matches none of the model's layers \(b1, bn, b2, head\)/);
      expect(() => selectLayers(model, 'bakbone')).toThrow(/names no layer "bakbone"; the model's layers are b1, bn, b2, head/);
      expect(() => selectLayers(model, 9)).toThrow(/index 9 is outside the model's 4 layers/);
      expect(() => selectLayers(model, { from: 'head', to: 'b1' })).toThrow(/is empty: "head" comes after "b1"/);
    });

    it('nested backbones are expanded: freezing by the leaf layers of a model used as a layer', () => {
      const backbone = withSeed(1, () => tf.sequential({ name: 'backbone', layers: [tf.layers.dense({ inputShape: [4], units: 6, name: 'inner1' }), tf.layers.dense({ units: 5, name: 'inner2' })] }));
      const model = withSeed(2, () => tf.sequential({ layers: [backbone, tf.layers.dense({ units: 2, name: 'top' })] }));
      expect(modelLayers(model).map((l) => l.name)).toEqual(['inner1', 'inner2', 'top']);
      freezeLayers(model, { allButLast: 1 });
      expect(model.trainableWeights.map((w) => w.originalName)).toEqual(['top/kernel', 'top/bias']);
      // A backbone frozen as a whole by the user, then one of its layers unfrozen: only that layer trains.
      unfreezeLayers(model, 'all');
      backbone.trainable = false;
      expect(model.trainableWeights.map((w) => w.originalName)).toEqual(['top/kernel', 'top/bias']);
      unfreezeLayers(model, 'inner2');
      expect(model.trainableWeights.map((w) => w.originalName).sort()).toEqual(['inner2/bias', 'inner2/kernel', 'top/bias', 'top/kernel']);
    });

    it.each(['adam', 'sgd'] as const)(
      '%s: frozen weights (batch-norm statistics included) stay bit-identical while the head trains',
      async (optimizer) => {
        const model = backboneAndHead();
        const frozen = freezeLayers(model, { allButLast: 1 });
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
      freezeLayers(model, 'bn');
      const frozenStats = stats();
      const [train, infer] = tf.tidy(() => [model.apply(x, { training: true }) as tf.Tensor, model.apply(x, { training: false }) as tf.Tensor].map((t) => Array.from(t.dataSync())));
      expect(stats()).toEqual(frozenStats);
      expect(train).toEqual(infer); // no dropout in this model: the frozen BN is the only train/inference difference
      x.dispose();
    });
  });
}

afterAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});
