import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installWasmKernels, uninstallWasmKernels } from '../install-wasm-kernels.js';
import { expectNoLeak, onBackend, randomValues, relativeError, setUpWasmWithKernels, tf, WorstError } from '../../test-support/wasm-kernel-harness.js';
import { BATCH_NORM_TRAIN } from './batch-norm-training.js';

const worst = new WorstError();

interface Outcome {
  readonly y: Float32Array;
  readonly dx: Float32Array;
  readonly dGamma: Float32Array;
  readonly dBeta: Float32Array;
  readonly movingMean: Float32Array;
  readonly movingVariance: Float32Array;
}

/** One training forward + backward of a batch-norm layer with seeded weights, on the active backend. */
function trainStep(shape: number[], axis = -1, offset = 0): Outcome {
  const channels = shape[axis < 0 ? shape.length + axis : axis]!;
  const layer = tf.layers.batchNormalization({ axis, momentum: 0.9 });
  const size = shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(randomValues(size, 1).map((v) => v * 3 + offset), shape);
  const w = tf.tensor(randomValues(size, 2), shape);
  layer.apply(x, { training: false }); // builds the weights
  layer.setWeights([tf.tensor(randomValues(channels, 3).map((v) => v + 1.5)), tf.tensor(randomValues(channels, 4)), tf.zeros([channels]), tf.ones([channels])]);
  const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
  let y: Float32Array = new Float32Array();
  const grads = tf.tidy(() => {
    const { value, grads: g } = tf.variableGrads(() => {
      const out = layer.apply(x, { training: true }) as tf.Tensor;
      y = out.dataSync() as Float32Array;
      return tf.sum(tf.mul(out, w)) as tf.Scalar;
    }, [gamma!, beta!]);
    const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w)))(x);
    value.dispose();
    return { dx: dx.dataSync() as Float32Array, dGamma: g[gamma!.name]!.dataSync() as Float32Array, dBeta: g[beta!.name]!.dataSync() as Float32Array };
  });
  const [, , movingMean, movingVariance] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, w]);
  layer.dispose();
  return { y, ...grads, movingMean: movingMean!, movingVariance: movingVariance! };
}

const CASES: Array<readonly [string, number[], number, number]> = [
  ['conv activations [N,H,W,C]', [4, 5, 6, 3], -1, 0],
  ['dense activations [N,C]', [16, 7], -1, 0],
  ['a large mean (cancellation)', [8, 3, 3, 4], -1, 50],
  // Channels a multiple of 4: the output and dx passes run on the heap SIMD loop.
  ['conv activations, 16 channels', [4, 3, 5, 16], -1, 0],
  ['dense activations, 32 channels, a large mean', [24, 32], -1, -20],
];

describe('BatchNormalization training on wasm', () => {
  beforeAll(setUpWasmWithKernels);
  afterAll(() => {
    console.info(`batch-norm training wasm vs cpu, worst relative error: ${worst.toString()}`);
  });

  it.each(CASES)('%s: output, gradients and moving statistics equal the cpu backend', async (where, shape, axis, offset) => {
    const expected = await onBackend('cpu', () => trainStep(shape, axis, offset));
    const actual = trainStep(shape, axis, offset);
    for (const key of ['y', 'dx', 'dGamma', 'dBeta', 'movingMean', 'movingVariance'] as const) {
      expect(worst.record(relativeError(actual[key], expected[key]), `${where} ${key}`), key).toBeLessThanOrEqual(1e-5);
    }
  });

  it('runs the fused kernel in training (and only there)', () => {
    const layer = tf.layers.batchNormalization();
    const x = tf.randomNormal([2, 3, 3, 4]);
    const seen: string[] = [];
    const config = tf.getKernel(BATCH_NORM_TRAIN, 'wasm')!;
    const kernelFunc = config.kernelFunc;
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => (seen.push('fused'), kernelFunc(args));
    try {
      tf.tidy(() => layer.apply(x, { training: true }) as tf.Tensor);
      expect(seen).toEqual(['fused']);
      tf.tidy(() => layer.apply(x, { training: false }) as tf.Tensor);
      expect(seen).toEqual(['fused']);
      // Channels axis not last: the layer's own call.
      const channelsFirst = tf.layers.batchNormalization({ axis: 1 });
      tf.tidy(() => channelsFirst.apply(x, { training: true }) as tf.Tensor);
      expect(seen).toEqual(['fused']);
      channelsFirst.dispose();
    } finally {
      (config as { kernelFunc: tf.KernelFunc }).kernelFunc = kernelFunc;
      x.dispose();
      layer.dispose();
    }
  });

  it('adds the gradients that reach its mean and variance outputs (zeros when they reach no loss)', async () => {
    // f(x) = Σ y·w + Σ μ·u + Σ σ²·v, through the fused kernel on wasm and through tf.moments + tf.batchNorm on cpu.
    const [shape, channels] = [[6, 3, 2, 8], 8];
    const size = shape.reduce((a, b) => a * b, 1);
    const host = {
      x: randomValues(size, 21).map((v) => v * 2 + 0.5),
      w: randomValues(size, 22),
      u: randomValues(channels, 23),
      v: randomValues(channels, 24),
      gamma: randomValues(channels, 25).map((g) => g + 1.5),
      beta: randomValues(channels, 26),
    };
    const gradient = (fused: boolean, statistics: boolean): Float32Array =>
      tf.tidy(() => {
        const [x, w] = [tf.tensor(host.x, shape), tf.tensor(host.w, shape)];
        const [u, v, gamma, beta] = [host.u, host.v, host.gamma, host.beta].map((values) => tf.tensor(values));
        const f = (input: tf.Tensor): tf.Scalar => {
          const [y, mean, variance] = fused
            ? (tf.engine().runKernel(BATCH_NORM_TRAIN, { x: input, scale: gamma!, offset: beta! }, { epsilon: 1e-3 }) as tf.Tensor[])
            : ((m) => [tf.batchNorm(input, m.mean, m.variance, beta!, gamma!, 1e-3), m.mean, m.variance])(tf.moments(input, [0, 1, 2]));
          const out = tf.sum(tf.mul(y!, w));
          return (statistics ? tf.add(out, tf.add(tf.sum(tf.mul(mean!, u!)), tf.sum(tf.mul(variance!, v!)))) : out) as tf.Scalar;
        };
        return tf.grad(f)(x).dataSync() as Float32Array;
      });
    for (const statistics of [true, false]) {
      const expected = await onBackend('cpu', () => gradient(false, statistics));
      const actual = gradient(true, statistics);
      expect(worst.record(relativeError(actual, expected), `dx, statistics in the loss: ${statistics}`)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('leaks nothing across training steps', () => {
    const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [4, 4, 3] }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
    const optimizer = tf.train.sgd(0.1);
    const x = tf.randomNormal([8, 4, 4, 3]);
    const step = () => optimizer.minimize(() => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, false);
    expectNoLeak(step, 3);
    tf.dispose([x]);
    optimizer.dispose();
    model.dispose();
  });

  it("uninstall puts the layer class's own call back exactly", () => {
    const proto = Object.getPrototypeOf(tf.layers.batchNormalization()) as object;
    const patched = Object.getOwnPropertyDescriptor(proto, 'call');
    uninstallWasmKernels(tf);
    const restored = Object.getOwnPropertyDescriptor(proto, 'call');
    expect(restored?.value).not.toBe(patched?.value);
    installWasmKernels(tf);
    uninstallWasmKernels(tf);
    expect(Object.getOwnPropertyDescriptor(proto, 'call')).toEqual(restored);
    installWasmKernels(tf);
  });
});
