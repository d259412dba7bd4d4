import { filter, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { PluginConflictError, ofType, selectBackend } from '@fitstream/core';
import { callback, cosineDecay, oneCycle, plateauPolicy, reduceLROnPlateau, stepDecay, warmup, type PlateauDecision } from '../../index.js';
import { blobs, smallTrainer } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const letter: Record<PlateauDecision['action'], string> = { ignored: 'x', improved: 'i', waiting: 'w', cooldown: 'c', reduce: 'R' };

function plateauRun(options: Parameters<typeof plateauPolicy>[0], values: number[], expected: string): void {
  new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
    const marble = `${values.map((_, i) => String.fromCharCode(97 + i)).join('')}|`;
    const inputs = Object.fromEntries(values.map((value, epoch) => [String.fromCharCode(97 + epoch), { epoch, value }]));
    const actions = cold(marble, inputs).pipe(plateauPolicy(options, 0.1), map((d) => letter[d.action]));
    expectObservable(actions).toBe(`${expected}|`, Object.fromEntries([...expected].map((c) => [c, c])));
  });
}

describe('plateauPolicy (pure operator, Keras ReduceLROnPlateau semantics)', () => {
  it('reduces after `patience` epochs without improvement and resets the wait', () => {
    plateauRun({ patience: 2, factor: 0.5 }, [1, 0.9, 0.95, 0.92, 0.91, 0.93], 'iiwRwR');
  });

  it('minDelta is absolute (Keras), so tiny improvements do not count', () => {
    plateauRun({ patience: 1, minDelta: 0.05 }, [1, 0.97, 0.9], 'iRi');
  });

  it('cooldown: the counter ticks down with wait held at 0; the epoch that ends the cooldown already counts (Keras re-checks)', () => {
    plateauRun({ patience: 1, cooldown: 2, factor: 0.5 }, [1, 1.1, 1.2, 1.3, 1.4, 1.5], 'iRcRcR');
  });

  it('never goes below minLr and stops reducing at it', () => {
    const lrs: number[] = [];
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold }) => {
      cold('abcdef|', Object.fromEntries([...'abcdef'].map((k, epoch) => [k, { epoch, value: epoch === 0 ? 1 : 2 }])))
        .pipe(plateauPolicy({ patience: 1, factor: 0.1, minLr: 0.002 }, 0.1))
        .subscribe((d) => lrs.push(d.learningRate));
    });
    expect(lrs.map((v) => Number(v.toPrecision(6)))).toEqual([0.1, 0.01, 0.002, 0.002, 0.002, 0.002]);
  });

  it("mode 'auto' maximises accuracy", () => {
    plateauRun({ monitor: 'val_accuracy', patience: 1 }, [0.5, 0.6, 0.55], 'iiR');
  });
});

describe('schedules as plugins (real training)', () => {
  const data = () => blobs(64);

  it('per step: every batch event carries the scheduled rate of its step; schedules publish no change events', async () => {
    const trainer = smallTrainer();
    const schedule = warmup({ steps: 3 }, cosineDecay({ totalSteps: 10, minLr: 0.001, initialLr: 0.2 }));
    const starts: [number, number][] = [];
    const ends: [number, number][] = [];
    trainer.events$.pipe(ofType('batch:start')).subscribe((e) => starts.push([e.step, e.learningRate]));
    trainer.events$.pipe(ofType('step:end')).subscribe((e) => ends.push([e.step - 1, e.learningRate]));
    let changes = 0;
    trainer.events$.pipe(ofType('learningRate:changed')).subscribe(() => changes++);
    trainer.use(schedule);
    await trainer.fit(data(), { epochs: 3, batchSize: 16, handleSignals: false });
    expect(starts).toHaveLength(12);
    for (const [step, lr] of starts) expect(lr).toBeCloseTo(schedule(step), 12);
    for (const [step, lr] of ends) expect(lr).toBeCloseTo(schedule(step), 12);
    expect(changes).toBe(0);
    trainer.dispose();
  });

  it("per epoch: the rate changes at epoch boundaries and epoch:start carries it", async () => {
    const trainer = smallTrainer();
    const rates: number[] = [];
    trainer.events$.pipe(ofType('epoch:start')).subscribe((e) => rates.push(e.learningRate));
    trainer.use(stepDecay({ stepSize: 2, gamma: 0.5, interval: 'epoch', initialLr: 0.1 }));
    await trainer.fit(data(), { epochs: 5, batchSize: 32, handleSignals: false });
    expect(rates).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    trainer.dispose();
  });

  it("without initialLr the optimizer's rate is the base (PyTorch base_lr), captured once", async () => {
    const trainer = smallTrainer(); // sgd, lr 0.01
    const schedule = oneCycle({ maxLr: 0.05, totalSteps: 8 });
    const decay = cosineDecay({ totalSteps: 4 });
    const rates: number[] = [];
    trainer.events$.pipe(ofType('batch:start')).subscribe((e) => rates.push(e.learningRate));
    trainer.use(decay);
    await trainer.fit(data(), { epochs: 1, batchSize: 16, handleSignals: false });
    expect(decay.initialLr).toBe(0.01);
    expect(rates.map((r) => Number(r.toPrecision(8)))).toEqual([0, 1, 2, 3].map((t) => Number(decay(t).toPrecision(8))));
    expect(schedule.initialLr).toBeCloseTo(0.002, 12);
    trainer.dispose();
  });

  it('two base schedules are refused, naming both', async () => {
    const trainer = smallTrainer();
    trainer.use(cosineDecay({ totalSteps: 10 })).use(stepDecay({ stepSize: 2 }));
    await expect(trainer.fit(data(), { epochs: 1, handleSignals: false })).rejects.toThrow(PluginConflictError);
    await expect(trainer.fit(data(), { epochs: 1, handleSignals: false })).rejects.toThrow(/"cosine-decay" and "step-decay" both claim "learning-rate base schedule"/);
    trainer.dispose();
  });

  it('reduceLROnPlateau lowers the rate in a real fit and the next epoch runs with it', async () => {
    const trainer = smallTrainer();
    // mode 'max' on the falling training loss: never improves after epoch 0, so it reduces every `patience` epochs.
    const plateau = reduceLROnPlateau({ monitor: 'loss', mode: 'max', patience: 1, factor: 0.5 });
    const rates: number[] = [];
    const changed: number[] = [];
    plateau.events$.subscribe((e) => changed.push(e.learningRate));
    trainer.use(plateau).use(callback('rates', (e$) => e$.pipe(ofType('epoch:start')).subscribe((e) => rates.push(e.learningRate))));
    await trainer.fit(data(), { epochs: 4, batchSize: 32, handleSignals: false });
    expect(rates.map((r) => Number(r.toPrecision(6)))).toEqual([0.01, 0.01, 0.005, 0.0025]);
    expect(changed.map((r) => Number(r.toPrecision(6)))).toEqual([0.005, 0.0025, 0.00125]);
    expect(plateau.state).toMatchObject({ wait: 0, cooldownCounter: 0 });
    trainer.dispose();
  });

  it('plateau state survives a checkpoint and resume (StateProvider)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'callbacks-plateau-'));
    try {
      const first = smallTrainer();
      const plateau = reduceLROnPlateau({ monitor: 'loss', mode: 'max', patience: 3 });
      first.use(plateau).use(callback('ckpt', (e$, c) => e$.pipe(ofType('epoch:end'), filter((e) => e.epoch === 1)).subscribe(() => c.requestCheckpoint('test'))));
      await first.fit(data(), { epochs: 2, batchSize: 32, checkpointDir: dir, handleSignals: false });
      expect(plateau.state.wait).toBe(1);
      first.dispose();
      const second = smallTrainer();
      const resumed = reduceLROnPlateau({ monitor: 'loss', mode: 'max', patience: 3 });
      second.use(resumed);
      await second.resume(dir, data(), { epochs: 3, batchSize: 32, handleSignals: false });
      expect(resumed.state.wait).toBe(2); // 1 restored + epoch 2 without improvement
      second.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
