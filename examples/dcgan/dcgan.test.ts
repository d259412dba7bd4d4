import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@fitstream/core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '../shared/decode-png.js';
import { trainDigitClassifier, type DigitClassifier } from '../shared/digit-classifier.js';
import { imageGrid } from '../shared/png.js';
import { scoreSamples } from '../shared/score.js';
import { RUNS, trainDcgan } from './dcgan.js';

/** The measured seed is 1; `FITSTREAM_EXAMPLE_SEED` reruns the test with another to see the spread. */
const SEED = Number(process.env.FITSTREAM_EXAMPLE_SEED ?? 1);
let dir: string;
let classifier: DigitClassifier;
beforeAll(async () => {
  await selectBackend({ log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-dcgan-'));
  classifier = await trainDigitClassifier({ epochs: 2 });
});
afterAll(async () => {
  classifier.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('DCGAN on MNIST (custom trainStep, two models, two optimizers)', () => {
  it('draws digits a classifier trained on real MNIST recognises, of many kinds, with a PNG grid per epoch and flat memory', async () => {
    expect(classifier.heldOutAccuracy).toBeGreaterThan(0.95);
    const tensors: number[] = [];
    const run = await trainDcgan({ ...RUNS.quick, dir, seed: SEED, onEpochEnd: () => void tensors.push(tf.memory().numTensors) });

    // Recognisable and diverse. Measured with seeds 1, 2, 3: mean confidence 0.69, 0.59, 0.51; 6, 7, 6 digit kinds.
    const images = run.generate(500, 99);
    const score = await scoreSamples(classifier, images);
    console.info(`dcgan seed ${SEED}: mean confidence ${score.meanConfidence.toFixed(3)}, ${score.distinctDigits} digits, shares ${score.shares.map((v) => v.toFixed(2)).join(' ')}`);
    expect(score.meanConfidence).toBeGreaterThan(0.45);
    expect(score.distinctDigits).toBeGreaterThanOrEqual(5);

    // The step's tensors are all disposed: the count is the same after every epoch.
    expect(tensors).toHaveLength(RUNS.quick.epochs);
    expect(new Set(tensors.slice(1)).size).toBe(1);

    // One PNG per epoch; the last decodes (with an independent decoder) to the generator's fixed-noise samples.
    expect(run.samples.map((p) => p.slice(dir.length + 1))).toEqual(Array.from({ length: RUNS.quick.epochs }, (_, i) => join('samples', `epoch-00${i + 1}.png`)));
    const decoded = decodePng(await readFile(run.samples.at(-1)!));
    const fixed = tf.tidy(() => run.generator.predict(tf.randomNormal([64, 64], 0, 1, 'float32', 1234)) as tf.Tensor4D);
    const grid = await imageGrid(fixed, 8);
    expect([decoded.width, decoded.height]).toEqual([grid.width, grid.height]);
    expect(decoded.gray).toEqual(grid.pixels);
    tf.dispose([images, fixed]);

    // The loop's bookkeeping: the step's values by their typed names, the backup removed after a completed run.
    expect(Object.keys(run.result.history.logs).sort()).toEqual(['d_fake', 'd_loss', 'd_real', 'g_loss', 'loss']);
    await expect(readFile(join(dir, 'generator', 'model.json'), 'utf8')).resolves.toContain('conv2d_transpose');
    run.dispose();
  });
});
