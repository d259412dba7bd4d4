/**
 * The models of the `backend` and `native` suites, and their data: one definition, so that every contender (and the
 * Keras peer, `python/keras_peer.py`, which mirrors it) trains the same thing.
 */
import * as tf from '@tensorflow/tfjs';
import { withSeed } from '@fitstream/core';

export const BATCH = 64;
export const LEARNING_RATE = 1e-3;
export const SEED = 7;

export type ModelName = 'mlp' | 'cnn' | 'lstm' | 'cnn_large' | 'gru';

export interface ModelSpec {
  readonly name: ModelName;
  readonly inputShape: number[];
  readonly outputs: number;
  readonly loss: 'categoricalCrossentropy' | 'meanSquaredError';
  build(): tf.LayersModel;
}

type Layers = NonNullable<NonNullable<Parameters<typeof tf.sequential>[0]>['layers']>;

/** A 10-class classifier (categorical cross-entropy) on `inputShape`; `layers` makes its layers, the first on `inputShape`. */
function classifier(name: ModelName, inputShape: number[], layers: () => Layers): ModelSpec {
  return { name, inputShape, outputs: 10, loss: 'categoricalCrossentropy', build: () => tf.sequential({ layers: layers() }) };
}

/** A one-output regressor (mean squared error) on `inputShape`; `layers` makes its layers, the first on `inputShape`. */
function regressor(name: ModelName, inputShape: number[], layers: () => Layers): ModelSpec {
  return { name, inputShape, outputs: 1, loss: 'meanSquaredError', build: () => tf.sequential({ layers: layers() }) };
}

/**
 * MLP 784-256-256-10, a small CNN on 28×28×1, LSTM(64) on 32×4, a larger CNN on 28×28×1 (conv32-conv64-pool-dense128),
 * GRU(64) on 32×4; batch 64, Adam 1e-3.
 */
export const MODELS: readonly ModelSpec[] = [
  classifier('mlp', [784], () => [
    tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }),
    tf.layers.dense({ units: 256, activation: 'relu' }),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ]),
  classifier('cnn', [28, 28, 1], () => [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.batchNormalization(),
    tf.layers.flatten(),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ]),
  regressor('lstm', [32, 4], () => [tf.layers.lstm({ inputShape: [32, 4], units: 64 }), tf.layers.dense({ units: 1 })]),
  classifier('cnn_large', [28, 28, 1], () => [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
    tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 128, activation: 'relu' }),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ]),
  // tfjs-layers' GRU applies the reset gate before the recurrent product (Keras' reset_after=False; tfjs has no
  // reset-after variant) and defaults to a hard-sigmoid recurrent activation; the sigmoid is named here so that the
  // Keras twin (GRU(64, reset_after=False), Keras' default sigmoid) trains the same function.
  regressor('gru', [32, 4], () => [tf.layers.gru({ inputShape: [32, 4], units: 64, recurrentActivation: 'sigmoid' }), tf.layers.dense({ units: 1 })]),
];

/** Seeded random normal inputs; one-hot targets for a classifier, random normal targets for a regressor. */
export function makeData(spec: ModelSpec, samples: number): { x: tf.Tensor; y: tf.Tensor } {
  return withSeed(SEED, () =>
    tf.tidy(() => {
      const x = tf.randomNormal([samples, ...spec.inputShape]);
      const y =
        spec.loss === 'categoricalCrossentropy'
          ? tf.oneHot(tf.randomUniform([samples], 0, spec.outputs, 'int32') as tf.Tensor1D, spec.outputs).toFloat()
          : tf.randomNormal([samples, spec.outputs]);
      return { x, y };
    }),
  );
}
