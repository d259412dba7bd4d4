/**
 * Trains the DCGAN and scores its digits with a classifier trained on real MNIST.
 *
 *   npm run dcgan -w @fitstream/examples -- [--quick] [--epochs N] [--seed S] [--dir runs/dcgan]
 *
 * Writes `<dir>/samples/epoch-NNN.png`, `<dir>/events.jsonl` and `<dir>/generator/`. Interrupt it (Ctrl-C) and run
 * it again: it resumes from `<dir>/backup`.
 */
import 'reflect-metadata';
import { selectBackend } from '@fitstream/core';
import { trainDigitClassifier } from '../shared/digit-classifier.js';
import { runArgs } from '../shared/run-options.js';
import { scoreSamples } from '../shared/score.js';
import { RUNS, trainDcgan } from './dcgan.js';

const args = runArgs();
const preset = args.quick ? RUNS.quick : RUNS.full;
const dir = args.dir ?? 'runs/dcgan';
await selectBackend();
const started = Date.now();
const run = await trainDcgan({ ...preset, dir, epochs: args.epochs ?? preset.epochs, seed: args.seed ?? 1, progress: process.stdout });
const trainSeconds = (Date.now() - started) / 1000;
const classifier = await trainDigitClassifier();
const images = run.generate(1000, 99);
const score = await scoreSamples(classifier, images);
images.dispose();
// The report's head is acgan/main.ts's: each main stays a whole script, read top to bottom, so the few lines stay apart.
console.log(
  JSON.stringify(
    {
      steps: run.result.step,
      trainSeconds: Math.round(trainSeconds),
      classifierHeldOutAccuracy: +classifier.heldOutAccuracy.toFixed(4),
      meanConfidence: +score.meanConfidence.toFixed(3),
      distinctDigits: score.distinctDigits,
      shares: score.shares.map((s) => +s.toFixed(3)),
      samples: run.samples.at(-1),
    },
    null,
    2,
  ),
);
classifier.dispose();
run.dispose();
