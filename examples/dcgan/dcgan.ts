/**
 * A DCGAN on MNIST digits, trained by the fitstream trainer with a custom `trainStep`: two models (the generator is the
 * trainer's main model, the discriminator an extra one), two Adam optimizers, one update of each per step.
 */
import * as tf from '@tensorflow/tfjs';
import { backupAndRestore, jsonlLogger, progressBar, type ProgressStream } from '@fitstream/callbacks';
import { createTrainer, fileSystem, resolveLoss, withSeed, type FitResult, type Plugin, type TrainStep } from '@fitstream/core';
import { loadMnist } from '@fitstream/datasets';
import { join } from 'node:path';
import { sampleGrid as sampleGridPlugin } from '../shared/sample-grid.js';

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

/** A kept tensor back under the current tidy scope (a clone the scope disposes; the kept one is disposed now). */
export function release<T extends tf.Tensor>(kept: T): T {
  const out = kept.clone();
  kept.dispose();
  return out;
}

/** The GAN's step: the discriminator learns real vs generated, then the generator learns to fool it. */
export function ganStep(generator: tf.LayersModel, discriminator: tf.LayersModel): TrainStep<'d_loss' | 'g_loss' | 'd_real' | 'd_fake'> {
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
export interface DcganOptions {
  /** Where the run writes `events.jsonl`, `samples/epoch-NNN.png`, the backup while it runs and `generator/` at the end. */
  readonly dir: string;
  readonly epochs: number;
  /** How many MNIST digits to train on (of 10 000; default all). */
  readonly images?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly learningRate?: number;
  /** Show a progress bar (or lines, off a terminal) on this stream; default none. */
  readonly progress?: ProgressStream;
  /** Called at every epoch's end, after the sample grid is written (the trainer waits for it). */
  readonly onEpochEnd?: (epoch: number, generator: tf.LayersModel) => Promise<void> | void;
}

export interface DcganRun {
  readonly generator: tf.LayersModel;
  readonly discriminator: tf.LayersModel;
  readonly result: FitResult<'d_loss' | 'g_loss' | 'd_real' | 'd_fake'>;
  /** The PNG grids written, one per epoch. */
  readonly samples: readonly string[];
  /** `n` generated digits `[n, 28, 28, 1]` from seeded noise (the caller disposes them). */
  generate(n: number, seed: number): tf.Tensor4D;
  dispose(): void;
}

/** A grid of generated digits at every epoch's end (`../shared/sample-grid.ts`). */
function sampleGrid(generator: tf.LayersModel, dir: string, written: string[], onEpochEnd: DcganOptions['onEpochEnd']): Plugin {
  return sampleGridPlugin({ dir, columns: 8, written, generate: () => tf.tidy(() => generator.predict(tf.randomNormal([64, LATENT], 0, 1, 'float32', 1234)) as tf.Tensor4D), onEpochEnd: (epoch) => onEpochEnd?.(epoch, generator) });
}

/** Trains the DCGAN; call `selectBackend()` first. Run it again after a kill: `backupAndRestore` resumes it. */
export async function trainDcgan(options: DcganOptions): Promise<DcganRun> {
  const seed = options.seed ?? 1;
  const mnist = await loadMnist({ shuffle: seed, ...(options.images === undefined ? {} : { subset: options.images }) });
  const generator = buildGenerator(seed);
  const discriminator = buildDiscriminator(seed + 1);
  const lr = options.learningRate ?? 2e-4;
  // Adam with β1 = 0.5, as in the DCGAN paper. The `{ name, learningRate }` spec takes no β1: pass tf.train.adam
  // instances (the trainer then does not own them, so they are disposed below).
  const optimizers = { generator: tf.train.adam(lr, 0.5), discriminator: tf.train.adam(lr, 0.5) };
  const samples: string[] = [];
  const trainer = createTrainer({ model: generator, models: { discriminator }, optimizer: optimizers, trainStep: ganStep(generator, discriminator), seed, log: null, backend: 'current' })
    .use(jsonlLogger({ path: join(options.dir, 'events.jsonl') }))
    .use(backupAndRestore({ dir: join(options.dir, 'backup') }))
    .use(sampleGrid(generator, options.dir, samples, options.onEpochEnd));
  if (options.progress) trainer.use(progressBar({ stream: options.progress, metrics: ['d_loss', 'g_loss', 'd_real', 'd_fake'] }));
  let result: DcganRun['result'];
  try {
    result = await trainer.fit({ x: mnist.x, y: mnist.y }, { epochs: options.epochs, batchSize: options.batchSize ?? 64, dropLast: true });
  } finally {
    trainer.dispose();
    tf.dispose([mnist.x, mnist.y]);
  }
  await generator.save(fileSystem(join(options.dir, 'generator')));
  return {
    generator,
    discriminator,
    result,
    samples,
    generate: (n, s) => tf.tidy(() => generator.predict(tf.randomNormal([n, LATENT], 0, 1, 'float32', s)) as tf.Tensor4D),
    dispose: () => {
      generator.dispose();
      discriminator.dispose();
      Object.values(optimizers).forEach((o) => o.dispose());
    },
  };
}
