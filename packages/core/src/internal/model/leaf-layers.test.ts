import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withSeed } from '@fitstream/util';
import { isFrozen, leafLayers } from './leaf-layers.js';
import { installFrozenBatchNormInference } from './frozen-batch-norm.js';

function nested(): { model: tf.LayersModel; backbone: tf.Sequential } {
  return withSeed(1, () => {
    const backbone = tf.sequential({ name: 'backbone', layers: [tf.layers.dense({ inputShape: [3], units: 4, name: 'inner' }), tf.layers.batchNormalization({ name: 'inner_bn' })] });
    const model = tf.sequential({ layers: [backbone, tf.layers.dense({ units: 2, name: 'top' })] });
    return { model, backbone };
  });
}

describe('leaf layers', () => {
  it('expands nested models depth first, leaves out input layers, and names each layer’s containers', () => {
    const { model } = nested();
    expect(leafLayers(model).map(({ layer, ancestors }) => [...ancestors.map((a) => a.name), layer.name].join('/'))).toEqual(['backbone/inner', 'backbone/inner_bn', 'top']);
  });

  it('a layer is frozen when it or a model it sits in is not trainable', () => {
    const { model, backbone } = nested();
    expect(leafLayers(model).filter(isFrozen)).toEqual([]);
    backbone.trainable = false;
    expect(leafLayers(model).filter(isFrozen).map((l) => l.layer.name)).toEqual(['inner', 'inner_bn']);
  });

  it('a batch-norm layer in a frozen nested model normalizes with its moving statistics in a training pass', () => {
    const { model, backbone } = nested();
    installFrozenBatchNormInference(model);
    const x = tf.randomNormal([16, 3], 1, 2, 'float32', 3);
    const bn = backbone.getLayer('inner_bn');
    const stats = () => bn.getWeights().slice(2).map((w) => Array.from(w.dataSync()));
    backbone.trainable = false; // read at call time: no second install needed
    const before = stats();
    const [train, infer] = tf.tidy(() => [model.apply(x, { training: true }) as tf.Tensor, model.apply(x, { training: false }) as tf.Tensor].map((t) => Array.from(t.dataSync())));
    expect(stats()).toEqual(before);
    expect(train).toEqual(infer);
    x.dispose();
  });
});
