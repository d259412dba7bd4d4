import * as tf from '@tensorflow/tfjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, isMetricsRead, ofType, readMetricsAsync, selectBackend, type TrainerEvent } from '../../index.js';
import { classificationData, mlp } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

function setup(seed = 1) {
  const data = classificationData(40, 3, 2);
  const model = mlp(3, 8, 2, seed);
  const trainer = createTrainer({ model, optimizer: 'sgd', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed, backend: 'current', log: null });
  return { data, model, trainer };
}

const code: Record<string, string> = {
  'backend:selected': 'B',
  'fit:start': 'F',
  'epoch:start': 'E',
  'batch:start': 'b',
  'batch:end': 'e',
  'step:end': 's',
  'validation:start': 'v',
  'validation:end': 'V',
  'epoch:end': 'N',
  'fit:end': 'Z',
  'checkpoint:saved': 'C',
};

describe('event order', () => {
  it('follows fit:start → epoch:start → (batch:start → batch:end → step:end)+ → validation:start → validation:end → epoch:end … → fit:end', async () => {
    const { data, trainer } = setup();
    const seen: string[] = [];
    trainer.events$.subscribe((e) => seen.push(code[e.type] ?? '?'));
    await trainer.fit(data, { epochs: 2, batchSize: 16, validation: data, handleSignals: false });
    // 40 samples / 16 = 3 batches per epoch (last one partial).
    expect(seen.join('')).toBe('BFEbesbesbesvVNEbesbesbesvVNZ');
  });

  it('groups batches into steps when accumulating gradients', async () => {
    const { data, trainer } = setup();
    const seen: string[] = [];
    trainer.events$.subscribe((e) => seen.push(code[e.type] ?? '?'));
    await trainer.fit(data, { epochs: 1, batchSize: 8, accumulateBatches: 2, handleSignals: false });
    // 5 batches: steps after batches 2, 4 and the epoch's last (5).
    expect(seen.join('')).toBe('BFEbebesbebesbesNZ');
  });

  it('carries epoch, batch, global step, learning rate, sizes and metrics', async () => {
    const { data, trainer } = setup();
    const events: TrainerEvent<'accuracy'>[] = [];
    trainer.events$.subscribe((e) => events.push(e));
    await trainer.fit(data, { epochs: 2, batchSize: 16, validation: data, handleSignals: false });
    const steps = events.filter((e) => e.type === 'step:end');
    expect(steps.map((e) => [e.epoch, e.batch, e.step, e.samples])).toEqual([
      [0, 0, 1, 16], [0, 1, 2, 16], [0, 2, 3, 8], [1, 0, 4, 16], [1, 1, 5, 16], [1, 2, 6, 8],
    ]);
    for (const e of steps) expect(e.learningRate).toBeCloseTo(0.01);
    const epochEnds = events.filter((e): e is Extract<TrainerEvent<'accuracy'>, { type: 'epoch:end' }> => e.type === 'epoch:end');
    expect(epochEnds.map((e) => [e.epoch, e.step, e.samples, e.batches])).toEqual([[0, 3, 40, 3], [1, 6, 40, 3]]);
    for (const e of epochEnds) {
      expect(Object.keys(e.metrics).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
      expect(e.metrics.loss).toBeGreaterThan(0);
    }
    const fitEnd = events.at(-1);
    expect(fitEnd?.type).toBe('fit:end');
    if (fitEnd?.type === 'fit:end') {
      expect(fitEnd.reason).toBe('completed');
      expect(fitEnd.history.epochs).toEqual([0, 1]);
      expect(fitEnd.history.logs.val_loss).toHaveLength(2);
    }
  });

  it('reports epoch loss as the sample-weighted mean of batch losses', async () => {
    const { data, trainer } = setup();
    const batches: { loss: number; size: number }[] = [];
    let epochLoss = 0;
    trainer.events$.subscribe((e) => {
      if (e.type === 'batch:end') batches.push({ loss: e.metrics.loss, size: e.size });
      if (e.type === 'epoch:end') epochLoss = e.metrics.loss;
    });
    await trainer.fit(data, { epochs: 1, batchSize: 16, handleSignals: false });
    const mean = batches.reduce((s, b) => s + b.loss * b.size, 0) / batches.reduce((s, b) => s + b.size, 0);
    expect(epochLoss).toBeCloseTo(mean, 5);
  });
});

describe('lazy batch metrics', () => {
  it('reads nothing back from the device per batch unless a subscriber reads', async () => {
    const { data, trainer } = setup();
    let reads = 0;
    const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown; data: () => Promise<unknown> };
    const { dataSync, data: dataAsync } = proto;
    proto.dataSync = function (this: tf.Tensor) {
      reads++;
      return dataSync.call(this);
    };
    proto.data = function (this: tf.Tensor) {
      reads++;
      return dataAsync.call(this);
    };
    try {
      let unread = 0;
      trainer.events$.pipe(ofType('batch:end')).subscribe((e) => (unread += isMetricsRead(e.metrics) ? 0 : 1));
      const count = async (batchSize: number) => {
        reads = 0;
        await trainer.fit(data, { epochs: 2, batchSize, handleSignals: false, checkData: 'never' });
        return reads;
      };
      const fewBatches = await count(20);
      const manyBatches = await count(2);
      // Reads per fit are a constant (epoch aggregates), independent of the number of batches (2 vs 20 per epoch).
      expect(manyBatches).toBe(fewBatches);
      expect(fewBatches).toBeLessThanOrEqual(4);
      expect(unread).toBe(44);
    } finally {
      proto.dataSync = dataSync;
      proto.data = dataAsync;
    }
  });

  it('reads all values once on first access, caches them, and refuses reads of released batches', async () => {
    const { data, trainer } = setup();
    const kept: { metrics: { loss: number } }[] = [];
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => {
      expect(isMetricsRead(e.metrics)).toBe(false);
      const loss = e.metrics.loss;
      expect(isMetricsRead(e.metrics)).toBe(true);
      expect({ ...e.metrics }).toEqual({ loss, accuracy: e.metrics.accuracy });
      kept.push(e);
    });
    const held: { metrics: { loss: number } }[] = [];
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => held.push(e));
    await trainer.fit(data, { epochs: 1, batchSize: 20, handleSignals: false });
    expect(kept[0]!.metrics.loss).toBeGreaterThan(0); // cached values stay readable
    const { trainer: other, data: d2 } = setup();
    const late: { metrics: { loss: number } }[] = [];
    other.events$.pipe(ofType('batch:end')).subscribe((e) => late.push(e));
    await other.fit(d2, { epochs: 1, batchSize: 20, handleSignals: false });
    expect(() => late[0]!.metrics.loss).toThrow(/released when the next batch ended/);
    expect(held).toHaveLength(2);
  });
});

describe('readMetricsAsync', () => {
  it('reads without blocking and caches for the getters', async () => {
    const { data, trainer } = setup();
    const reads: Promise<Readonly<Record<string, number>>>[] = [];
    trainer.events$.pipe(ofType('batch:end')).subscribe((e) => reads.push(readMetricsAsync(e.metrics)));
    await trainer.fit(data, { epochs: 1, batchSize: 20, handleSignals: false });
    const values = await Promise.all(reads);
    expect(values).toHaveLength(2);
    for (const v of values) expect(Object.keys(v)).toEqual(['loss', 'accuracy']);
  });
});

describe('ofType', () => {
  it('keeps only the named types (marble test)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    const ev = (type: string) => ({ type, time: 0 }) as unknown as TrainerEvent;
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a-b-c-d|', { a: ev('fit:start'), b: ev('epoch:end'), c: ev('batch:end'), d: ev('epoch:end') });
      expectObservable(source.pipe(ofType('epoch:end'))).toBe('--b---d|', { b: ev('epoch:end'), d: ev('epoch:end') });
      expectObservable(source.pipe(ofType('fit:start', 'batch:end'))).toBe('a---c--|', { a: ev('fit:start'), c: ev('batch:end') });
    });
  });
});
