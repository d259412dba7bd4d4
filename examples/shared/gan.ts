import * as tf from '@tensorflow/tfjs';
import { backupAndRestore, jsonlLogger, progressBar, type ProgressStream } from '@fitstream/callbacks';
import { createTrainer, fileSystem, type FitResult, type TrainStep } from '@fitstream/core';
import { loadMnist } from '@fitstream/datasets';
import { join } from 'node:path';
import { sampleGrid } from './sample-grid.js';

/** Options of the GAN examples' runs (`trainDcgan`, `trainAcgan`). */
export interface GanOptions {
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

/** A finished GAN run: the two models (the caller disposes them with `dispose()`), the fit's result and the PNG grids written. */
export interface GanRun<M extends string> {
  readonly generator: tf.LayersModel;
  readonly discriminator: tf.LayersModel;
  readonly result: FitResult<M>;
  /** The PNG grids written, one per epoch. */
  readonly samples: readonly string[];
  dispose(): void;
}

/** What tells one GAN example from another: its two models, its step, its sample sheet and the metrics its progress bar shows. */
export interface GanParts<M extends string> {
  buildGenerator(seed: number): tf.LayersModel;
  buildDiscriminator(seed: number): tf.LayersModel;
  step(generator: tf.LayersModel, discriminator: tf.LayersModel): TrainStep<M>;
  /** Images per row of the epoch-end sheet. */
  readonly columns: number;
  /** The epoch-end sheet's images, from fixed noise (the same inputs every epoch). */
  sheet(generator: tf.LayersModel): tf.Tensor4D;
  /** The progress bar's metrics (default: the step's). */
  readonly progressMetrics?: readonly M[];
}

/** A kept tensor back under the current tidy scope (a clone the scope disposes; the kept one is disposed now). */
export function release<T extends tf.Tensor>(kept: T): T {
  const out = kept.clone();
  kept.dispose();
  return out;
}

/**
 * Trains a GAN on MNIST with the fitstream trainer (the run both GAN examples share): the generator is the trainer's
 * main model, the discriminator an extra one, each with its own Adam (β1 = 0.5); `events.jsonl`, `backupAndRestore`
 * (run it again after a kill: it resumes) and a sample sheet per epoch; the generator saved at the end. Call
 * `selectBackend()` first.
 */
export async function trainGan<M extends string>(options: GanOptions, parts: GanParts<M>): Promise<GanRun<M>> {
  const seed = options.seed ?? 1;
  const mnist = await loadMnist({ shuffle: seed, ...(options.images === undefined ? {} : { subset: options.images }) });
  const generator = parts.buildGenerator(seed);
  const discriminator = parts.buildDiscriminator(seed + 1);
  const lr = options.learningRate ?? 2e-4;
  // Adam with β1 = 0.5, as in the DCGAN paper. The `{ name, learningRate }` spec takes no β1: pass tf.train.adam
  // instances (the trainer then does not own them, so they are disposed below).
  const optimizers = { generator: tf.train.adam(lr, 0.5), discriminator: tf.train.adam(lr, 0.5) };
  const samples: string[] = [];
  const trainer = createTrainer({ model: generator, models: { discriminator }, optimizer: optimizers, trainStep: parts.step(generator, discriminator), seed, log: null, backend: 'current' })
    .use(jsonlLogger({ path: join(options.dir, 'events.jsonl') }))
    .use(backupAndRestore({ dir: join(options.dir, 'backup') }))
    .use(sampleGrid({ dir: options.dir, columns: parts.columns, written: samples, generate: () => parts.sheet(generator), onEpochEnd: (epoch) => options.onEpochEnd?.(epoch, generator) }));
  if (options.progress) trainer.use(progressBar({ stream: options.progress, ...(parts.progressMetrics === undefined ? {} : { metrics: parts.progressMetrics }) }));
  let result: FitResult<M>;
  try {
    result = await trainer.fit({ x: mnist.x, y: mnist.y }, { epochs: options.epochs, batchSize: options.batchSize ?? 64, dropLast: true });
  } finally {
    trainer.dispose();
    tf.dispose([mnist.x, mnist.y]);
  }
  await generator.save(fileSystem(join(options.dir, 'generator')));
  // Alike in shape to trainVae's result (vae/vae.ts): each run hands its own models, and what disposes them, to the caller.
  return {
    generator,
    discriminator,
    result,
    samples,
    dispose: () => {
      generator.dispose();
      discriminator.dispose();
      Object.values(optimizers).forEach((o) => o.dispose());
    },
  };
}
