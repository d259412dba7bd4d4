import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, fileSystem, findCheckpoint, readCheckpoint, selectBackend, type EventOf, type TrainerEvent } from '@fitstream/core';
import { modelCheckpoint } from '../../index.js';
import { blobs, mlp, weightsOf } from '../../test-support/fixtures.js';
import { compileTemplate } from './filename-template.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-ckpt-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function setup(seed = 1) {
  const model = mlp(3, 8, 2, seed);
  const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed, backend: 'current', log: null });
  const events: TrainerEvent[] = [];
  trainer.events$.subscribe((e) => events.push(e as TrainerEvent));
  return { model, trainer, events };
}

const data = () => ({ train: blobs(48, 3, 2, 5), val: blobs(32, 3, 2, 9) });

describe('modelCheckpoint: best-k by a monitored metric', () => {
  it('keeps the best k by val_loss, names them from the template, maintains best.json and latest.json, prunes after writing', async () => {
    const dir = join(tmp, 'best');
    const { trainer, events } = setup();
    const ckpt = modelCheckpoint({ dir, monitor: 'val_loss', keepBest: 2, filename: 'epoch-{epoch:03d}-val_loss-{val_loss:.4f}' });
    trainer.use(ckpt);
    const { train, val } = data();
    const { history } = await trainer.fit(train, { epochs: 8, batchSize: 16, validation: val, handleSignals: false });

    const valLoss = history.logs.val_loss!;
    const ranked = valLoss.map((v, epoch) => ({ v, epoch })).sort((a, b) => a.v - b.v);
    const expectedNames = ranked.slice(0, 2).map(({ v, epoch }) => `epoch-${String(epoch + 1).padStart(3, '0')}-val_loss-${v.toFixed(4)}`);
    const onDisk = (await readdir(dir)).filter((n) => n.startsWith('epoch-')).sort();
    expect(onDisk).toEqual([...expectedNames].sort());
    expect(ckpt.best?.name).toBe(expectedNames[0]);

    const best = JSON.parse(await readFile(join(dir, 'best.json'), 'utf8')) as { path: string; value: number; monitor: string; ranking: { path: string }[] };
    expect(best).toMatchObject({ path: expectedNames[0], monitor: 'val_loss', value: ranked[0]!.v });
    expect(best.ranking.map((r) => r.path)).toEqual(expectedNames);

    // latest.json names the newest checkpoint written, which is never pruned at its own save.
    const saved = events.filter((e): e is EventOf<'modelCheckpoint:saved'> => e.type === 'modelCheckpoint:saved');
    const pruned = events.filter((e): e is EventOf<'modelCheckpoint:pruned'> => e.type === 'modelCheckpoint:pruned');
    expect(await findCheckpoint(dir)).toBe(saved.at(-1)!.path);
    expect(saved.length - pruned.length).toBe(2);
    expect(saved.every((e) => e.reasons.includes('best') && e.monitor === 'val_loss')).toBe(true);
    // Each prune is published after the save that displaced it (the new checkpoint was complete first).
    for (const p of pruned) {
      const index = events.indexOf(p);
      expect(events.slice(0, index).some((e) => e.type === 'modelCheckpoint:saved' && e.step >= p.step)).toBe(true);
      expect(existsSync(p.path)).toBe(false);
    }
  });

  it('every checkpoint loads with stock tf.loadLayersModel and holds the weights of its epoch', async () => {
    const dir = join(tmp, 'load');
    const { trainer, model } = setup(2);
    const snapshots: number[][][] = [];
    trainer.events$.subscribe((e) => e.type === 'epoch:end' && snapshots.push(weightsOf(model)));
    trainer.use(modelCheckpoint({ dir, everyEpochs: 1 }));
    const { train } = data();
    await trainer.fit(train, { epochs: 3, batchSize: 16, handleSignals: false });
    const names = (await readdir(dir)).filter((n) => n.startsWith('epoch-')).sort();
    expect(names).toEqual(['epoch-0001-step-00000003', 'epoch-0002-step-00000006', 'epoch-0003-step-00000009']);
    for (const [i, name] of names.entries()) {
      const loaded = await tf.loadLayersModel(fileSystem(join(dir, name)));
      expect(weightsOf(loaded)).toEqual(snapshots[i]);
      const out = loaded.predict(train.x) as tf.Tensor;
      expect(out.shape).toEqual([48, 2]);
      out.dispose();
      loaded.dispose();
    }
  });

  it('every n steps with keep-last-k; mid-epoch checkpoints resume, and the kept set survives the resume', async () => {
    const dir = join(tmp, 'steps');
    const { trainer } = setup(3);
    const ckpt = modelCheckpoint({ dir, everySteps: 2, keepLast: 2, filename: 'step-{step:05d}-loss-{loss:.3e}' });
    trainer.use(ckpt);
    const { train } = data();
    await trainer.fit(train, { epochs: 2, batchSize: 16, handleSignals: false }); // 6 steps: saves at 2, 4, 6
    expect(ckpt.saved.map((s) => s.step)).toEqual([4, 6]);
    const onDisk = (await readdir(dir)).filter((n) => n.startsWith('step-')).sort();
    expect(onDisk.map((n) => n.slice(0, 10))).toEqual(['step-00004', 'step-00006']);
    expect(onDisk[0]).toMatch(/^step-00004-loss-\d\.\d{3}e[-+]\d+$/);
    const mid = await readCheckpoint(join(dir, onDisk[0]!));
    expect(mid.state).toMatchObject({ epoch: 1, batch: 1, step: 4 });
    tf.dispose(Object.values(mid.weights));
    tf.dispose(mid.optimizerWeights.map((w) => w.tensor));

    // A fresh trainer resumes from step 4 and keeps pruning the set it restored from the checkpoint state.
    const again = setup(3);
    const ckpt2 = modelCheckpoint({ dir, everySteps: 2, keepLast: 2, filename: 'step-{step:05d}-loss-{loss:.3e}' });
    again.trainer.use(ckpt2);
    await again.trainer.fit(train, { epochs: 3, batchSize: 16, handleSignals: false, resumeFrom: join(dir, onDisk[0]!) });
    // Restored [2, 4] from step 4's state; 2 was gone. The resumed run is bit-identical, so step 6 gets the same name.
    expect(ckpt2.saved.map((s) => s.step)).toEqual([6, 8]);
    const after = (await readdir(dir)).filter((n) => n.startsWith('step-')).map((n) => n.slice(0, 10)).sort();
    expect(after).toEqual(['step-00006', 'step-00008']);
  });

  it('checks templates and monitors: unknown placeholders name the available ones', async () => {
    expect(() => compileTemplate('epoch-{epoch:4x}')).toThrow(/format "4x" of \{epoch\}/);
    expect(() => compileTemplate('a/{epoch}')).toThrow(/without \//);
    expect(compileTemplate('e{epoch:03d}-{val_loss:.2f}-{lr:.1e}-{acc:.3g}').render({ epoch: 7, val_loss: 0.12345, lr: 0.00031, acc: 0.98765 })).toBe('e007-0.12-3.1e-4-0.988');

    const { trainer } = setup();
    trainer.use(modelCheckpoint({ dir: join(tmp, 'bad'), filename: 'e{epoch}-{val_acc:.3f}' }));
    await expect(trainer.fit(data().train, { epochs: 1, handleSignals: false })).rejects.toThrow(
      'uses {val_acc}, which a checkpoint at an epoch end does not provide. Available: {epoch}, {step}, {batch}, {loss}, {accuracy}, {val_loss}, {val_accuracy}.',
    );
    const other = setup();
    other.trainer.use(modelCheckpoint({ dir: join(tmp, 'bad2'), everySteps: 1, filename: 'e{epoch}-{val_loss:.3f}' }));
    await expect(other.trainer.fit(data().train, { epochs: 1, handleSignals: false })).rejects.toThrow(/a mid-epoch checkpoint \(everySteps\/everyMinutes\) does not provide/);
    const third = setup();
    third.trainer.use(modelCheckpoint({ dir: join(tmp, 'bad3'), monitor: 'val_acc' as 'val_loss' }));
    await expect(third.trainer.fit(data().train, { epochs: 1, handleSignals: false })).rejects.toThrow(/monitor "val_acc" is not reported/);
    expect(() => modelCheckpoint({ dir: 'x', keepBest: 0 })).toThrow(/keepBest must be an integer ≥ 1/);
  });

  it('mode auto maximises val_accuracy', async () => {
    const dir = join(tmp, 'acc');
    const { trainer } = setup(4);
    const ckpt = modelCheckpoint({ dir, monitor: 'val_accuracy' });
    trainer.use(ckpt);
    const { train, val } = data();
    const { history } = await trainer.fit(train, { epochs: 5, batchSize: 16, validation: val, handleSignals: false });
    const accs = history.logs.val_accuracy!;
    const bestEpoch = accs.indexOf(Math.max(...accs)); // first maximum: later equal values are no improvement
    expect(ckpt.saved).toHaveLength(1);
    expect(ckpt.best).toMatchObject({ epoch: bestEpoch + 1, value: accs[bestEpoch] });
  });
});
