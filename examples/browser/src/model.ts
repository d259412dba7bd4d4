import * as tf from '@tensorflow/tfjs';
import { withSeed } from '@fitstream/core';
import { SIZE } from './shapes.js';

/**
 * The classifier: 3×3 convolutions with 8, 16 and 32 filters (2×2 max pooling after the first two), global max pooling
 * — the shape counts, not where it was drawn — and a softmax over the classes: about 6 000 weights, a few milliseconds
 * a step on wasm. Its initial weights come from `seed` (tfjs' initialisers draw from `Math.random`, which `withSeed`
 * scopes to core's PRNG for this call).
 *
 * @example
 * ```ts
 * const model = buildModel(7, 3); // the same initial weights for seed 7 on every run
 * ```
 */
export function buildModel(seed: number, classes: number): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      name: 'shapes',
      layers: [
        tf.layers.conv2d({ inputShape: [SIZE, SIZE, 1], filters: 8, kernelSize: 3, activation: 'relu', name: 'conv1' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', name: 'conv2' }),
        tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
        tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv3' }),
        tf.layers.globalMaxPooling2d({ name: 'pool3' }),
        tf.layers.dense({ units: classes, activation: 'softmax', name: 'classes' }),
      ],
    }),
  );
}

/** The model's weights as the test compares them: SHA-256 of every weight's float32 bytes in order, and their sum. */
export interface WeightsChecksum {
  readonly sha256: string;
  readonly sum: number;
}

/**
 * Reads the weights back from the backend and fingerprints them: two runs that end with this same `sha256` ended with
 * bit-identical weights.
 *
 * @example
 * ```ts
 * const { sha256, sum } = await weightsChecksum(model);
 * ```
 */
export async function weightsChecksum(model: tf.LayersModel): Promise<WeightsChecksum> {
  const arrays = await Promise.all(model.getWeights().map((w) => w.data<'float32'>()));
  const bytes = new Uint8Array(arrays.reduce((n, a) => n + a.byteLength, 0));
  let at = 0;
  let sum = 0;
  for (const a of arrays) {
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
    for (const v of a) sum += v;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return { sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''), sum };
}
