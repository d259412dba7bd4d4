/**
 * An auxiliary-classifier GAN (ACGAN) on MNIST digits: the generator takes noise and the digit to draw; the
 * discriminator has two outputs, `validity` (real vs generated, one logit) and `digit` (ten class logits). Trained by
 * the fitstream trainer with a custom `trainStep`: two models, two Adam optimizers.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveLoss, withSeed, type TrainStep } from '@fitstream/core';
import { release, trainGan, type GanOptions, type GanRun } from '../shared/gan.js';

export const LATENT = 64;
export const CLASSES = 10;

/** `[noise [n, 64], digit [n, 1]]` → image `[n, 28, 28, 1]` in [0, 1]: the noise beside an embedding of the digit, then as the DCGAN's generator. */
export function buildGenerator(seed: number): tf.LayersModel {
  return withSeed(seed, () => {
    const noise = tf.input({ shape: [LATENT], name: 'noise' });
    const digit = tf.input({ shape: [1], name: 'digit' });
    const embedded = tf.layers.flatten().apply(tf.layers.embedding({ inputDim: CLASSES, outputDim: 16, embeddingsInitializer: 'randomNormal', name: 'digit_embedding' }).apply(digit)) as tf.SymbolicTensor;
    const h = tf.layers.concatenate().apply([noise, embedded]) as tf.SymbolicTensor;
    const dense = tf.layers.dense({ units: 7 * 7 * 64, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    const grid = tf.layers.reshape({ targetShape: [7, 7, 64] }).apply(dense) as tf.SymbolicTensor;
    const up = tf.layers.conv2dTranspose({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }).apply(grid) as tf.SymbolicTensor;
    const image = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid', name: 'image' }).apply(up) as tf.SymbolicTensor;
    return tf.model({ inputs: [noise, digit], outputs: image, name: 'generator' });
  });
}

/** Image → `[validity [n, 1], digit [n, 10]]`, both logits: a shared convolutional body, two heads. */
export function buildDiscriminator(seed: number): tf.LayersModel {
  return withSeed(seed, () => {
    const image = tf.input({ shape: [28, 28, 1], name: 'image' });
    let h = tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'same' }).apply(image) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv2d({ filters: 64, kernelSize: 4, strides: 2, padding: 'same' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    const validity = tf.layers.dense({ units: 1, name: 'validity' }).apply(h) as tf.SymbolicTensor;
    const digit = tf.layers.dense({ units: CLASSES, name: 'digit' }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: image, outputs: [validity, digit], name: 'discriminator' });
  });
}

const bce = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }).fn;
const sparseCe = resolveLoss({ name: 'sparseCategoricalCrossentropy', fromLogits: true }).fn;
const REAL_LABEL = 0.9;

type AcganMetric = 'd_loss' | 'g_loss' | 'd_class_accuracy';

/** Noise and requested digits for `n` samples (from the step's seeded stream when unseeded). */
function requests(n: number, seed?: number): { noise: tf.Tensor2D; digits: tf.Tensor1D } {
  return { noise: tf.randomNormal([n, LATENT], 0, 1, 'float32', seed), digits: tf.randomUniform([n], 0, CLASSES, 'int32', seed) as tf.Tensor1D };
}

const asColumn = (digits: tf.Tensor1D) => tf.reshape(tf.cast(digits, 'float32'), [-1, 1]);

/** The ACGAN step: the discriminator learns validity and the digit (of real and generated images), then the generator learns to draw the digit asked for convincingly. */
export function acganStep(generator: tf.LayersModel, discriminator: tf.LayersModel): TrainStep<AcganMetric> {
  const judge = (image: tf.Tensor) => discriminator.apply(image, { training: true }) as [tf.Tensor, tf.Tensor];
  return {
    name: 'acgan',
    metrics: ['d_loss', 'g_loss', 'd_class_accuracy'],
    run: (batch, ctx) => {
      const real = batch.x as tf.Tensor4D;
      const labels = batch.y as tf.Tensor1D;
      const n = real.shape[0];
      const asked = requests(n);
      const fake = generator.apply([asked.noise, asColumn(asked.digits)], { training: true }) as tf.Tensor;
      let accuracy: tf.Scalar | undefined;
      const d_loss = ctx.minimize('discriminator', () => {
        const [validReal, digitReal] = judge(real);
        const [validFake, digitFake] = judge(fake);
        accuracy = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(digitReal, 1), tf.cast(labels, 'int32')), 'float32')) as tf.Scalar);
        const validity = tf.add(tf.mean(bce(tf.fill(validReal.shape, REAL_LABEL), validReal)), tf.mean(bce(tf.zerosLike(validFake), validFake)));
        const digit = tf.add(tf.mean(sparseCe(labels, digitReal)), tf.mean(sparseCe(asked.digits, digitFake)));
        return tf.add(validity, digit) as tf.Scalar;
      });
      const d_class_accuracy = release(accuracy!);
      const again = requests(n);
      const g_loss = ctx.minimize('generator', () => {
        const [validFake, digitFake] = judge(generator.apply([again.noise, asColumn(again.digits)], { training: true }) as tf.Tensor);
        return tf.add(tf.mean(bce(tf.onesLike(validFake), validFake)), tf.mean(sparseCe(again.digits, digitFake))) as tf.Scalar;
      });
      return { loss: tf.add(d_loss, g_loss), d_loss, g_loss, d_class_accuracy };
    },
  };
}

/** The test's run (about a minute here) and the README's. */
export const RUNS = {
  quick: { epochs: 7, images: 2048, learningRate: 1e-3 },
  full: { epochs: 4, images: 10_000, learningRate: 1e-3 },
} as const;

/** Options of {@link trainAcgan}: those of the DCGAN; the sample grid's row k shows the digit k. */
export type AcganOptions = GanOptions;

export interface AcganRun extends GanRun<AcganMetric> {
  /** `perDigit` samples of each digit 0–9, in order (`[10·perDigit, 28, 28, 1]`), from seeded noise. */
  generate(perDigit: number, seed: number): tf.Tensor4D;
}

/** Images of each digit in turn: `perDigit` of 0, then of 1, … */
export function generateDigits(generator: tf.LayersModel, perDigit: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const digits = tf.tensor2d(Array.from({ length: CLASSES * perDigit }, (_, i) => [Math.floor(i / perDigit)]));
    return generator.predict([tf.randomNormal([CLASSES * perDigit, LATENT], 0, 1, 'float32', seed), digits]) as tf.Tensor4D;
  });
}

/** Trains the ACGAN (`../shared/gan.ts`; a sample grid per epoch, row k the digit k); call `selectBackend()` first. */
export async function trainAcgan(options: AcganOptions): Promise<AcganRun> {
  const run = await trainGan(options, { buildGenerator, buildDiscriminator, step: acganStep, columns: 10, sheet: (generator) => generateDigits(generator, 10, 1234) });
  return { ...run, generate: (perDigit, s) => generateDigits(run.generator, perDigit, s) };
}
