/**
 * Trains the VAE and reports its held-out reconstruction loss, KL term, and how a classifier trained on real MNIST reads
 * its reconstructions and its samples.
 *
 *   npm run vae -w @fitstream/examples -- [--quick] [--epochs N] [--seed S] [--dir runs/vae]
 */
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@fitstream/core';
import { join } from 'node:path';
import { trainDigitClassifier } from '../shared/digit-classifier.js';
import { writePngGrid } from '../shared/png.js';
import { runArgs } from '../shared/run-options.js';
import { scoreSamples } from '../shared/score.js';
import { RUNS, trainVae } from './vae.js';

const args = runArgs();
const preset = args.quick ? RUNS.quick : RUNS.full;
const dir = args.dir ?? 'runs/vae';
await selectBackend();
const seed = args.seed ?? 1;
const started = Date.now();
const run = await trainVae({ dir, epochs: args.epochs ?? preset.epochs, seed, progress: process.stdout });
const trainSeconds = (Date.now() - started) / 1000;
const classifier = await trainDigitClassifier({ seed });
const labels = Array.from(await (await import('@fitstream/datasets')).loadMnist({ shuffle: seed }).then(async (m) => {
  const y = await m.y.data();
  tf.dispose([m.x, m.y]);
  return y.subarray(y.length - run.heldOut.shape[0]);
}));
const reconstructions = run.reconstruct(run.heldOut);
const read = await scoreSamples(classifier, reconstructions, labels);
const samples = run.sample(1000, 99);
const drawn = await scoreSamples(classifier, samples);
await writePngGrid(join(dir, 'reconstructions.png'), reconstructions.slice(0, 64), 8);
await writePngGrid(join(dir, 'samples.png'), samples.slice(0, 64), 8);
const last = (name: keyof typeof run.result.history.logs) => +(run.result.history.logs[name]?.at(-1) ?? NaN).toFixed(2);
console.log(
  JSON.stringify(
    {
      epochs: run.result.history.logs.loss?.length,
      trainSeconds: Math.round(trainSeconds),
      val_loss: last('val_loss'),
      val_reconstruction: last('val_reconstruction'),
      val_kl: last('val_kl'),
      classifierHeldOutAccuracy: +classifier.heldOutAccuracy.toFixed(4),
      classifierOnReconstructions: +read.accuracy!.toFixed(4),
      samplesMeanConfidence: +drawn.meanConfidence.toFixed(3),
      samplesDistinctDigits: drawn.distinctDigits,
    },
    null,
    2,
  ),
);
tf.dispose([reconstructions, samples]);
classifier.dispose();
run.dispose();
