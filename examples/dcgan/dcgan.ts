/**
 * A DCGAN on MNIST digits, trained by the fitstream trainer with a custom `trainStep`: two models (the generator is the
 * trainer's main model, the discriminator an extra one), two Adam optimizers, one update of each per step.
 */
import * as tf from '@tensorflow/tfjs';
import { resolveLoss, withSeed, type TrainStep } from '@fitstream/core';
import { release, trainGan, type GanOptions, type GanRun } from '../shared/gan.js';

/** Size of the generator's noise input. */
export const LATENT = 64;

/** Noise `[n, 64]` → image `[n, 28, 28, 1]` in [0, 1]: a dense layer to 7×7×64, then two stride-2 transposed convolutions. */
export function buildGenerator(seed: number): tf.Sequential {
  return withSeed(seed, () =>
    tf.sequential({
      name: 'generator',
      layers: [
        tf.layers.dense({ inputShape: [LATENT], units: 7 * 7 * 64, activation: 'relu' }),
        tf.layers.reshape({ targetShape: [7, 7, 64] }),
        tf.layers.conv2dTranspose({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid' }),
      ],
    }),
  );
}

/** Image → one logit (real vs generated): two stride-2 convolutions with leaky ReLU. */
export function buildDiscriminator(seed: number): tf.Sequential {
  return withSeed(seed, () =>
    tf.sequential({
      name: 'discriminator',
      layers: [
        tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 4, strides: 2, padding: 'same' }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.conv2d({ filters: 64, kernelSize: 4, strides: 2, padding: 'same' }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1 }),
      ],
    }),
  );
}

const bce = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }).fn;
/** Real images are labelled 0.9 (one-sided label smoothing): the discriminator stays less sure, the generator's gradient stays useful. */
const REAL_LABEL = 0.9;

/** The GAN's step: the discriminator learns real vs generated, then the generator learns to fool it. */
export function ganStep(generator: tf.LayersModel, discriminator: tf.LayersModel): TrainStep<DcganMetric> {
  return {
    name: 'dcgan',
    metrics: ['d_loss', 'g_loss', 'd_real', 'd_fake'],
    run: (batch, ctx) => {
      const real = batch.x as tf.Tensor4D;
      const n = real.shape[0];
      // Unseeded randomness inside a step draws from the trainer's seeded stream: a run is reproducible, a resume exact.
      const fake = generator.apply(tf.randomNormal([n, LATENT]), { training: true }) as tf.Tensor;
      // The loss closure runs in its own tidy scope: what else it computes (here D's mean output on real and generated
      // images) must be kept to outlive it, then handed back to the step's scope.
      let dReal: tf.Scalar | undefined;
      let dFake: tf.Scalar | undefined;
      // Optimizers named like a model train that model: "discriminator" its weights, "generator" (no model of that
      // name) the main model's.
      const d_loss = ctx.minimize('discriminator', () => {
        const onReal = discriminator.apply(real, { training: true }) as tf.Tensor;
        const onFake = discriminator.apply(fake, { training: true }) as tf.Tensor;
        dReal = tf.keep(tf.mean(tf.sigmoid(onReal)));
        dFake = tf.keep(tf.mean(tf.sigmoid(onFake)));
        return tf.add(tf.mean(bce(tf.fill(onReal.shape, REAL_LABEL), onReal)), tf.mean(bce(tf.zerosLike(onFake), onFake))) as tf.Scalar;
      });
      const d_real = release(dReal!);
      const d_fake = release(dFake!);
      const g_loss = ctx.minimize('generator', () => {
        const onFake = discriminator.apply(generator.apply(tf.randomNormal([n, LATENT]), { training: true }) as tf.Tensor, { training: true }) as tf.Tensor;
        return tf.mean(bce(tf.onesLike(onFake), onFake)) as tf.Scalar;
      });
      return { loss: tf.add(d_loss, g_loss), d_loss, g_loss, d_real, d_fake };
    },
  };
}

/** The test's run (about a minute here) and the README's. */
export const RUNS = {
  quick: { epochs: 6, images: 2048, learningRate: 1e-3 },
  full: { epochs: 4, images: 10_000, learningRate: 1e-3 },
} as const;

/** Options of {@link trainDcgan}. */
export type DcganOptions = GanOptions;

type DcganMetric = 'd_loss' | 'g_loss' | 'd_real' | 'd_fake';

export interface DcganRun extends GanRun<DcganMetric> {
  /** `n` generated digits `[n, 28, 28, 1]` from seeded noise (the caller disposes them). */
  generate(n: number, seed: number): tf.Tensor4D;
}

/** `n` digits from seeded noise. */
const generate = (generator: tf.LayersModel, n: number, seed: number) => tf.tidy(() => generator.predict(tf.randomNormal([n, LATENT], 0, 1, 'float32', seed)) as tf.Tensor4D);

/** Trains the DCGAN (`../shared/gan.ts`; an 8×8 sample grid per epoch); call `selectBackend()` first. Run it again after a kill: `backupAndRestore` resumes it. */
export async function trainDcgan(options: DcganOptions): Promise<DcganRun> {
  const run = await trainGan(options, {
    buildGenerator,
    buildDiscriminator,
    step: ganStep,
    columns: 8,
    sheet: (generator) => generate(generator, 64, 1234),
    progressMetrics: ['d_loss', 'g_loss', 'd_real', 'd_fake'],
  });
  return { ...run, generate: (n, s) => generate(run.generator, n, s) };
}
