import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, selectBackend, withSeed, type TrainerEvent } from '@fitstream/core';
import { discriminativeLr, groupFactors } from './discriminative-lr.js';
import { fineTuning, trainableGroupsAt } from './fine-tuning.js';
import { blobs } from '../../test-support/fixtures.js';

let dir: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  dir = await mkdtemp(join(tmpdir(), 'fitstream-finetune-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A "pretrained" backbone (two blocks, one with batch norm) and a head. */
function network(seed = 3): tf.LayersModel {
  return withSeed(seed, () =>
    tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3], units: 12, activation: 'relu', name: 'block1' }),
        tf.layers.batchNormalization({ name: 'block1_bn' }),
        tf.layers.dense({ units: 8, activation: 'relu', name: 'block2' }),
        tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' }),
      ],
    }),
  );
}
const GROUPS = [{ to: 'block1_bn' }, 'block2', 'head'] as const;
const layerValues = (model: tf.LayersModel, name: string) => model.getLayer(name).getWeights().map((w) => Array.from(w.dataSync()));
const allValues = (model: tf.LayersModel) => model.layers.map((l) => layerValues(model, l.name));

describe('fineTuning schedule', () => {
  it('is a pure function of the epoch: head alone, then one more group every `unfreezeEvery` epochs', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((e) => trainableGroupsAt(e, 3, 2, 2))).toEqual([1, 1, 2, 2, 3, 3, 3]);
    expect([0, 1, 2].map((e) => trainableGroupsAt(e, 2, 0, 1))).toEqual([2, 2, 2]);
    expect(groupFactors({ lowest: 0.01 }, 3, 't')).toEqual([0.01, 0.1, 1].map((f, i) => (i === 1 ? 0.01 ** 0.5 : f)));
    expect(() => groupFactors([1, 2], 3, 'fineTuning')).toThrow(/factors has 2 entries for 3 layer groups/);
    expect(() => groupFactors({ lowest: 0 }, 3, 'fineTuning')).toThrow(/lowest is 0; it must be in \(0, 1\]/);
    expect(() => fineTuning({ headEpochs: -1 })).toThrow(/headEpochs is -1; it must be an integer ≥ 0/);
    expect(() => fineTuning({ unfreezeEvery: 0 })).toThrow(/unfreezeEvery is 0; it must be an integer ≥ 1/);
  });

  it('trains the head alone (backbone and its batch-norm statistics bit-identical), then unfreezes group by group', async () => {
    const model = network();
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
    const plugin = fineTuning({ groups: GROUPS, headEpochs: 2, unfreezeEvery: 1, lrFactors: { lowest: 0.01 } });
    const snapshots: Record<number, number[][][]> = {};
    const changes: TrainerEvent[] = [];
    trainer.use(plugin);
    trainer.events$.pipe(ofType('fineTuning:trainable')).subscribe((e) => changes.push(e));
    trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => (snapshots[e.epoch] = allValues(model)));
    const before = allValues(model);
    await trainer.fit(blobs(64, 3, 2), { epochs: 5, batchSize: 16, handleSignals: false });
    // layers: 0 block1, 1 block1_bn, 2 block2, 3 head
    expect(snapshots[1]!.slice(0, 3)).toEqual(before.slice(0, 3)); // epochs 0–1: backbone frozen (BN stats included)
    expect(snapshots[1]![3]).not.toEqual(before[3]);
    expect(snapshots[2]!.slice(0, 2)).toEqual(before.slice(0, 2)); // epoch 2: block2 trains, block1 still frozen
    expect(snapshots[2]![2]).not.toEqual(before[2]);
    expect(snapshots[3]![0]).not.toEqual(before[0]); // epoch 3: everything trains
    expect(snapshots[3]![1]).not.toEqual(before[1]); // BN trains and updates its statistics once unfrozen
    expect(changes.map((c) => (c.type === 'fineTuning:trainable' ? [c.epoch, c.trainableGroups, c.unfrozen.join(',')] : []))).toEqual([
      [0, 1, ''],
      [2, 2, 'block2'],
      [3, 3, 'block1,block1_bn'],
    ]);
    const first = changes[0]!;
    expect(first.type === 'fineTuning:trainable' && first.frozen).toEqual(['block1', 'block1_bn', 'block2']);
    const last = changes[2]!;
    expect(last.type === 'fineTuning:trainable' && last.factors).toEqual(groupFactors({ lowest: 0.01 }, 3, 'x'));
    trainer.dispose();
  });

  it('a fit resumed mid-schedule from a checkpoint equals the uninterrupted fit, bit for bit', async () => {
    const data = blobs(64, 3, 2);
    const options = { epochs: 5, batchSize: 16, handleSignals: false } as const;
    const make = () => {
      const model = network();
      const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
      trainer.use(fineTuning({ groups: GROUPS, headEpochs: 1, lrFactors: [0.05, 0.3, 1] }));
      return { model, trainer };
    };
    const whole = make();
    await whole.trainer.fit(data, options);
    const cut = make();
    const checkpoint = join(dir, 'mid');
    cut.trainer.use({
      name: 'stop-mid-epoch-2',
      attach: (e$, control) =>
        e$.pipe(ofType('step:end')).subscribe((e) => {
          if (e.epoch === 2 && e.batch === 1) {
            control.await(control.saveCheckpoint(checkpoint));
            control.stop('interrupted');
          }
        }),
    });
    await cut.trainer.fit(data, options);
    const resumed = make(); // a fresh process's view: new model object (other variable names), fresh optimizer
    await resumed.trainer.fit(data, { ...options, resumeFrom: checkpoint });
    expect(allValues(resumed.model)).toEqual(allValues(whole.model));
  });

  it('refuses a FunctionModel and overlapping groups, naming the plugin', async () => {
    const w = tf.variable(tf.zeros([3, 2]), true, 'ft_w');
    const fn = createTrainer({ model: { variables: [w], apply: (x: tf.Tensor | readonly tf.Tensor[]) => tf.softmax(tf.matMul(x as tf.Tensor2D, w)) }, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    await expect(fn.use(fineTuning()).fit(blobs(16, 3, 2), { epochs: 1, batchSize: 8, handleSignals: false })).rejects.toThrow(/fineTuning: the trainer's model is a FunctionModel; layer groups need a tf.LayersModel/);
    const overlapping = createTrainer({ model: network(), optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 1, backend: 'current', log: null });
    await expect(overlapping.use(fineTuning({ groups: [{ to: 'block2' }, { from: 'block2' }] })).fit(blobs(16, 3, 2), { epochs: 1, batchSize: 8, handleSignals: false })).rejects.toThrow(/layer "block2" is in groups 0 and 1/);
  });
});

describe('discriminativeLr', () => {
  it('moves each group by its factor × the plain update (SGD, one step)', async () => {
    const step = async (plugin?: ReturnType<typeof discriminativeLr>) => {
      const model = network();
      const before = allValues(model);
      const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null });
      if (plugin) trainer.use(plugin);
      await trainer.fit(blobs(16, 3, 2), { epochs: 1, batchSize: 16, handleSignals: false });
      return allValues(model).map((layer, i) => layer.map((w, j) => w.map((v, k) => v - before[i]![j]![k]!)));
    };
    const plain = await step();
    const plugin = discriminativeLr({ groups: GROUPS, factors: [0.1, 0.5, 1] });
    const scaled = await step(plugin);
    expect(plugin.factorOf('nope')).toBe(1);
    const factorOfLayer = [0.1, 0.1, 0.5, 1];
    scaled.forEach((layer, i) =>
      layer.forEach((w, j) => {
        // block1_bn's moving mean and variance (weights 2 and 3) come from the forward pass, not the optimizer.
        const factor = i === 1 && j >= 2 ? 1 : factorOfLayer[i]!;
        w.forEach((d, k) => expect(Math.abs(d - plain[i]![j]![k]! * factor)).toBeLessThanOrEqual(4e-7));
      }),
    );
  });

  it('leaks no tensors across epochs of a fine-tuning fit', async () => {
    const model = network();
    const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', seed: 2, backend: 'current', log: null }).use(fineTuning({ groups: GROUPS, headEpochs: 1 }));
    const counts: number[] = [];
    trainer.events$.pipe(ofType('epoch:end')).subscribe(() => counts.push(tf.memory().numTensors));
    await trainer.fit(blobs(64, 3, 2), { epochs: 6, batchSize: 16, handleSignals: false });
    // Every group is trainable from epoch 2 (slots exist for all variables): flat from there.
    expect(new Set(counts.slice(2)).size).toBe(1);
    trainer.dispose();
  });
});
