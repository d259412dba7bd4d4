/**
 * A variational autoencoder on MNIST digits, trained by the fitstream trainer with a custom `trainStep`: an encoder
 * (image → mean and log-variance of the latent code), the reparameterisation z = mean + σ·ε, a decoder (z → pixel
 * logits), and loss = reconstruction (binary cross-entropy summed over the pixels) + KL(q(z|x) ‖ N(0, I)); one Adam
 * optimizer over both models.
 */
import * as tf from '@tensorflow/tfjs';
import { jsonlLogger, progressBar, type ProgressStream } from '@fitstream/callbacks';
import { createTrainer, fileSystem, withSeed, type FitResult, type TrainStep } from '@fitstream/core';
import { loadMnist } from '@fitstream/datasets';
import { join } from 'node:path';

/** Size of the latent code. */
export const LATENT = 16;

/** Image `[n, 28, 28, 1]` → `[mean, logVariance]`, each `[n, 16]`. */
export function buildEncoder(seed: number): tf.LayersModel {
  return withSeed(seed, () => {
    const image = tf.input({ shape: [28, 28, 1], name: 'image' });
    const flat = tf.layers.flatten().apply(image) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 256, activation: 'relu', name: 'hidden' }).apply(flat) as tf.SymbolicTensor;
    const mean = tf.layers.dense({ units: LATENT, name: 'z_mean' }).apply(hidden) as tf.SymbolicTensor;
    const logVar = tf.layers.dense({ units: LATENT, name: 'z_log_var' }).apply(hidden) as tf.SymbolicTensor;
    return tf.model({ inputs: image, outputs: [mean, logVar], name: 'encoder' });
  });
}

/** Latent code `[n, 16]` → pixel logits `[n, 28, 28, 1]` (sigmoid gives the image). */
export function buildDecoder(seed: number): tf.Sequential {
  return withSeed(seed, () =>
    tf.sequential({
      name: 'decoder',
      layers: [
        tf.layers.dense({ inputShape: [LATENT], units: 256, activation: 'relu' }),
        tf.layers.dense({ units: 28 * 28 }),
        tf.layers.reshape({ targetShape: [28, 28, 1] }),
      ],
    }),
  );
}

/** Binary cross-entropy of pixels `x` against `logits`, summed over each image's pixels: `[n]`. */
export function reconstructionError(x: tf.Tensor, logits: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    // max(l, 0) − l·x + log(1 + e^−|l|): the stable form of −x·log σ(l) − (1 − x)·log(1 − σ(l)).
    const perPixel = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, x)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.sum(tf.reshape(perPixel, [x.shape[0]!, -1]), 1) as tf.Tensor1D;
  });
}

/** KL(N(mean, e^logVar) ‖ N(0, I)) per sample: `[n]`. */
export function klDivergence(mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, logVar), tf.add(tf.square(mean), tf.exp(logVar))), 1)) as tf.Tensor1D);
}

type VaeMetric = 'reconstruction' | 'kl';

/** Encodes, samples z, decodes: the per-sample terms of the loss. */
function vaeTerms(encoder: tf.LayersModel, decoder: tf.LayersModel, x: tf.Tensor, training: boolean) {
  const [mean, logVar] = encoder.apply(x, { training }) as tf.Tensor[];
  // The reparameterisation trick: the noise is an input, so the gradient flows through mean and log-variance. The
  // unseeded draw comes from the trainer's seeded stream for this step.
  const z = tf.add(mean!, tf.mul(tf.exp(tf.mul(0.5, logVar!)), tf.randomNormal(mean!.shape)));
  const logits = decoder.apply(z, { training }) as tf.Tensor;
  return { reconstruction: tf.mean(reconstructionError(x, logits)) as tf.Scalar, kl: tf.mean(klDivergence(mean!, logVar!)) as tf.Scalar };
}

/** The VAE's step: one update of encoder and decoder together; reports the two terms. */
export function vaeStep(encoder: tf.LayersModel, decoder: tf.LayersModel): TrainStep<VaeMetric> {
  const variables = () => [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
  return {
    name: 'vae',
    metrics: ['reconstruction', 'kl'],
    run: (batch, ctx) => {
      let terms: { reconstruction: tf.Scalar; kl: tf.Scalar } | undefined;
      const loss = ctx.minimize(
        'default',
        () => {
          const t = vaeTerms(encoder, decoder, batch.x as tf.Tensor, true);
          // The loss closure runs in its own tidy scope: keep the terms to report them.
          terms = { reconstruction: tf.keep(t.reconstruction), kl: tf.keep(t.kl) };
          return tf.add(t.reconstruction, t.kl) as tf.Scalar;
        },
        variables(),
      );
      const reconstruction = terms!.reconstruction.clone();
      const kl = terms!.kl.clone();
      tf.dispose([terms!.reconstruction, terms!.kl]);
      return { loss, reconstruction, kl };
    },
    evaluate: (batch) => {
      const { reconstruction, kl } = vaeTerms(encoder, decoder, batch.x as tf.Tensor, false);
      return { loss: tf.add(reconstruction, kl) as tf.Scalar, reconstruction, kl };
    },
  };
}

/** The test's run and the README's. */
export const RUNS = { quick: { epochs: 12 }, full: { epochs: 30 } } as const;

/** Options of {@link trainVae}. */
export interface VaeOptions {
  /** Where the run writes `events.jsonl`, and `encoder/` and `decoder/` at the end. */
  readonly dir: string;
  readonly epochs: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Digits trained on; the remaining ones (of 10 000) are the validation set. Default 8 500. */
  readonly trainSize?: number;
  readonly progress?: ProgressStream;
  /** Called at every epoch's end (the trainer waits for it). */
  readonly onEpochEnd?: (epoch: number) => Promise<void> | void;
}

export interface VaeRun {
  readonly encoder: tf.LayersModel;
  readonly decoder: tf.LayersModel;
  readonly result: FitResult<VaeMetric>;
  /** The held-out digits (the caller disposes them with `dispose()`). */
  readonly heldOut: tf.Tensor4D;
  /** Reconstructions of `x` from the latent mean (no sampling): `[n, 28, 28, 1]` in [0, 1]. */
  reconstruct(x: tf.Tensor4D): tf.Tensor4D;
  /** Digits decoded from z ~ N(0, I), seeded. */
  sample(n: number, seed: number): tf.Tensor4D;
  dispose(): void;
}

/** Trains the VAE; call `selectBackend()` first. */
export async function trainVae(options: VaeOptions): Promise<VaeRun> {
  const seed = options.seed ?? 1;
  const trainSize = options.trainSize ?? 8500;
  const mnist = await loadMnist({ shuffle: seed });
  const [xTrain, heldOut] = tf.split(mnist.x, [trainSize, mnist.x.shape[0] - trainSize]) as [tf.Tensor4D, tf.Tensor4D];
  const encoder = buildEncoder(seed);
  const decoder = buildDecoder(seed + 1);
  const trainer = createTrainer({ model: encoder, models: { decoder }, optimizer: { name: 'adam', learningRate: 1e-3 }, trainStep: vaeStep(encoder, decoder), seed, log: null, backend: 'current' })
    .use(jsonlLogger({ path: join(options.dir, 'events.jsonl') }))
    .use({ name: 'epoch-hook', attach: (events$, control) => events$.subscribe((e) => e.type === 'epoch:end' && options.onEpochEnd && control.await(Promise.resolve(options.onEpochEnd(e.epoch)))) });
  if (options.progress) trainer.use(progressBar({ stream: options.progress }));
  let result: VaeRun['result'];
  try {
    // The trainer wants targets; the step ignores them (an autoencoder's target is its input).
    result = await trainer.fit({ x: xTrain, y: xTrain }, { epochs: options.epochs, batchSize: options.batchSize ?? 64, validation: { x: heldOut, y: heldOut } });
  } finally {
    trainer.dispose();
    tf.dispose([mnist.x, mnist.y, xTrain]);
  }
  await encoder.save(fileSystem(join(options.dir, 'encoder')));
  await decoder.save(fileSystem(join(options.dir, 'decoder')));
  // Alike in shape to trainGan's result (shared/gan.ts): each run hands its own models, and what disposes them, to the caller.
  return {
    encoder,
    decoder,
    result,
    heldOut,
    reconstruct: (x) => tf.tidy(() => tf.sigmoid(decoder.predict((encoder.predict(x) as tf.Tensor[])[0]!) as tf.Tensor) as tf.Tensor4D),
    sample: (n, s) => tf.tidy(() => tf.sigmoid(decoder.predict(tf.randomNormal([n, LATENT], 0, 1, 'float32', s)) as tf.Tensor) as tf.Tensor4D),
    dispose: () => {
      encoder.dispose();
      decoder.dispose();
      heldOut.dispose();
    },
  };
}
