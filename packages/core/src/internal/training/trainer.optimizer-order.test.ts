import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, GradientTransform, OPTIMIZER_NAMES, provide, Random, selectBackend, withSeed, type Plugin } from '../../index.js';
import { weightsOf } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-order-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Same-shaped 4×4 kernels whose names sort unlike their order (zeta, eta, alpha): slots cannot tell them apart by shape. */
function sameShapes(seed: number): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: ['zeta', 'eta', 'alpha'].map((name, i) => tf.layers.dense({ ...(i === 0 ? { inputShape: [4] } : {}), units: 4, useBias: false, activation: i < 2 ? 'tanh' : 'linear', name })),
    }),
  );
}

/** Lays the gradients out sorted by variable name, as an all-reduce does (its buffer layout), without changing them. */
const sortedByName: Plugin = {
  name: 'sorted-reduce',
  register: (r) =>
    provide(r, GradientTransform, {
      name: 'sorted-reduce',
      stage: 'reduce',
      transform: (g) => Object.fromEntries(Object.keys(g).sort().map((k) => [k, g[k]!])),
    }),
};

function data() {
  const r = Random.fromSeed(4);
  const x = Array.from({ length: 32 }, () => Array.from({ length: 4 }, () => r.normal()));
  return { x: tf.tensor2d(x), y: tf.tensor2d(x.map((row) => row.map((v, j) => Math.sin(v + j)))) };
}

describe('optimizer slots follow the variables, whatever order the gradients arrive in', () => {
  it('adamax, which tfjs cannot save, is refused with the optimizers that can be', async () => {
    const trainer = createTrainer({ model: sameShapes(1), optimizer: 'adamax', loss: 'meanSquaredError', seed: 3, backend: 'current', log: null });
    await trainer.fit(data(), { epochs: 1, batchSize: 8, handleSignals: false });
    await expect(trainer.saveCheckpoint(join(dir, 'adamax'))).rejects.toThrow(/Optimizer Adamax cannot save its state in tfjs .*; train with 'adam'/);
    trainer.dispose();
  });

  it.each(OPTIMIZER_NAMES.filter((n) => n !== 'adamax'))('%s: resumed equals uninterrupted bitwise with same-shaped variables and name-sorted gradients', async (name) => {
    const options = { optimizer: name, loss: 'meanSquaredError', seed: 3, backend: 'current', log: null } as const;
    const fit = { epochs: 4, batchSize: 8, handleSignals: false } as const;
    const full = sameShapes(1);
    const uninterrupted = createTrainer({ model: full, ...options }).use(sortedByName);
    await uninterrupted.fit(data(), fit);

    const path = join(dir, name);
    const first = createTrainer({ model: sameShapes(1), ...options }).use(sortedByName);
    await first.fit(data(), { ...fit, epochs: 2 });
    await first.saveCheckpoint(path);
    const resumedModel = sameShapes(8);
    const resumed = createTrainer({ model: resumedModel, ...options }).use(sortedByName);
    await resumed.fit(data(), { ...fit, resumeFrom: path });
    expect(weightsOf(resumedModel)).toEqual(weightsOf(full));
    [uninterrupted, first, resumed].forEach((t) => t.dispose());
  });
});
