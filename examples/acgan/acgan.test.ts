import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@fitstream/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../shared/decode-png.js';
import { trainDigitClassifier, type DigitClassifier } from '../shared/digit-classifier.js';
import { scoreSamples } from '../shared/score.js';
import { RUNS, trainAcgan } from './acgan.js';

/** The measured seed is 1; `FITSTREAM_EXAMPLE_SEED` reruns the test with another to see the spread. */
const SEED = Number(process.env.FITSTREAM_EXAMPLE_SEED ?? 1);
let dir: string;
let classifier: DigitClassifier;
beforeAll(async () => {
  await selectBackend({ log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-acgan-'));
  classifier = await trainDigitClassifier({ epochs: 2 });
});
afterAll(async () => {
  classifier.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('ACGAN on MNIST (two-output discriminator, generator conditioned on the digit)', () => {
  it('draws the digit it is asked for, as a classifier trained on real MNIST reads it', async () => {
    const run = await trainAcgan({ ...RUNS.quick, dir, seed: SEED });
    expect(run.discriminator.outputNames).toEqual(['validity', 'digit']);
    const perDigit = 50;
    const images = run.generate(perDigit, 99);
    const requested = Array.from({ length: 10 * perDigit }, (_, i) => Math.floor(i / perDigit));
    const score = await scoreSamples(classifier, images, requested);
    // Measured with seeds 1, 2, 3: 0.57, 0.61, 0.50. Chance is 0.1.
    console.info(`acgan seed ${SEED}: accuracy on requested digits ${score.accuracy!.toFixed(3)}, mean confidence ${score.meanConfidence.toFixed(3)}`);
    expect(score.accuracy!).toBeGreaterThan(0.4);
    images.dispose();
    const decoded = decodePng(await readFile(run.samples.at(-1)!));
    expect([decoded.width, decoded.height]).toEqual([10 * 30 + 2, 10 * 30 + 2]);
    expect(Object.keys(run.result.history.logs).sort()).toEqual(['d_class_accuracy', 'd_loss', 'g_loss', 'loss']);
    expect(tf.memory().numTensors).toBeLessThan(200);
    run.dispose();
  });
});
