/**
 * Trains the ACGAN and scores it: a classifier trained on real MNIST reads the digits drawn on request.
 *
 *   npm run acgan -w @fitstream/examples -- [--quick] [--epochs N] [--seed S] [--dir runs/acgan]
 *
 * Writes `<dir>/samples/epoch-NNN.png` (row k shows the digit k), `<dir>/events.jsonl` and `<dir>/generator/`.
 */
import 'reflect-metadata';
import { selectBackend } from '@fitstream/core';
import { trainDigitClassifier } from '../shared/digit-classifier.js';
import { runArgs } from '../shared/run-options.js';
import { scoreSamples } from '../shared/score.js';
import { RUNS, trainAcgan } from './acgan.js';

const args = runArgs();
const preset = args.quick ? RUNS.quick : RUNS.full;
await selectBackend();
const started = Date.now();
const run = await trainAcgan({ ...preset, dir: args.dir ?? 'runs/acgan', epochs: args.epochs ?? preset.epochs, seed: args.seed ?? 1, progress: process.stdout });
const trainSeconds = (Date.now() - started) / 1000;
const classifier = await trainDigitClassifier();
const perDigit = 100;
const images = run.generate(perDigit, 99);
const requested = Array.from({ length: 10 * perDigit }, (_, i) => Math.floor(i / perDigit));
const score = await scoreSamples(classifier, images, requested);
images.dispose();
// The report's head is dcgan/main.ts's: each main stays a whole script, read top to bottom, so the few lines stay apart.
console.log(
  JSON.stringify(
    {
      steps: run.result.step,
      trainSeconds: Math.round(trainSeconds),
      classifierHeldOutAccuracy: +classifier.heldOutAccuracy.toFixed(4),
      accuracyOnRequestedDigits: +score.accuracy!.toFixed(3),
      meanConfidence: +score.meanConfidence.toFixed(3),
      samples: run.samples.at(-1),
    },
    null,
    2,
  ),
);
classifier.dispose();
run.dispose();
