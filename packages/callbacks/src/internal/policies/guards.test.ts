import type * as tf from '@tensorflow/tfjs';
import { filter, from, map, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ofType, selectBackend } from '@fitstream/core';
import { callback, cosineDecay, lossSpikeGuard, spikeDetector, terminateOnNaN, timeBudget, type PolicyEvent } from '../../index.js';
import { blobs, corruptLoss, smallTrainer, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const modelOf = (trainer: unknown) => (trainer as { options: { model: tf.LayersModel } }).options.model;
const data = () => blobs(64);

describe('spikeDetector (pure operator: median/MAD over a window)', () => {
  it('flags losses far above the window median; spikes stay out of the window', () => {
    new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
      const losses = { a: 1.0, b: 1.1, c: 0.9, d: 1.05, e: 0.95, s: 9, n: Number.NaN };
      const flags = cold('abcdesasn|', losses).pipe(spikeDetector({ window: 5, minHistory: 4, threshold: 6 }), map((d) => (d.spike ? 'S' : '.')));
      expectObservable(flags).toBe('.....S.SS|', { '.': '.', S: 'S' });
    });
  });

  it('waits for minHistory, counts consecutive spikes and reports the robust z-score', async () => {
    const decisions = await from([1, 1.2, 0.8, 1, 50, 60, 1.1]).pipe(spikeDetector({ window: 10, minHistory: 3 }), toArray()).toPromise();
    expect(decisions!.map((d) => d.spike)).toEqual([false, false, false, false, true, true, false]);
    expect(decisions!.map((d) => d.consecutive)).toEqual([0, 0, 0, 0, 1, 2, 0]);
    expect(decisions![4]!.median).toBe(1);
    expect(decisions![4]!.mad).toBeCloseTo(0.1, 12);
    expect(decisions![4]!.score).toBeCloseTo(49 / (1.4826 * 0.1), 6);
    // Before minHistory nothing is a spike except a non-finite loss.
    const early = await from([1, 100, Number.POSITIVE_INFINITY]).pipe(spikeDetector({ minHistory: 5 }), map((d) => d.spike), toArray()).toPromise();
    expect(early).toEqual([false, false, true]);
  });
});

describe('lossSpikeGuard (real training)', () => {
  it("'skip' skips the optimizer update of the spiking step and emits lossSpikeGuard:detected", async () => {
    const trainer = smallTrainer();
    const model = modelOf(trainer);
    const guard = lossSpikeGuard({ window: 10, minHistory: 4, action: 'skip' });
    const weights = new Map<number, number[][]>();
    const spikes: PolicyEvent<'lossSpikeGuard:detected'>[] = [];
    const skipped: number[] = [];
    trainer.events$.pipe(ofType('lossSpikeGuard:detected')).subscribe((e) => spikes.push(e));
    trainer
      .use(corruptLoss(new Set([6]), 'spike'))
      .use(guard)
      .use(callback('weights', (e$) => e$.pipe(ofType('step:end')).subscribe((e) => (weights.set(e.step, weightsOf(model)), e.skipped && skipped.push(e.step)))));
    await trainer.fit(data(), { epochs: 3, batchSize: 16, handleSignals: false });
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ step: 6, action: 'skip', consecutive: 1 });
    expect(spikes[0]!.score).toBeGreaterThan(6);
    expect(weights.get(7)).toEqual(weights.get(6)); // step 6 (the 7th update) was skipped
    expect(skipped).toEqual([7]); // core reports it on that step's step:end (its step count is 7 after it)
    expect(weights.get(8)).not.toEqual(weights.get(7));
    trainer.dispose();
  });

  it("'rollback' restores the last good weights, lowers the rate, and a schedule keeps the lower factor", async () => {
    const trainer = smallTrainer();
    const model = modelOf(trainer);
    const guard = lossSpikeGuard({ window: 10, minHistory: 4, action: 'rollback', lrFactor: 0.5, snapshotEvery: 2 });
    const schedule = cosineDecay({ totalSteps: 100, initialLr: 0.1 });
    const weights = new Map<number, number[][]>();
    const rates = new Map<number, number>();
    trainer
      .use(schedule)
      .use(corruptLoss(new Set([7]), 'spike'))
      .use(guard)
      .use(callback('watch', (e$) => e$.pipe(ofType('step:end')).subscribe((e) => (weights.set(e.step, weightsOf(model)), rates.set(e.step, e.learningRate)))));
    const changes: PolicyEvent[] = [];
    guard.events$.subscribe((e) => changes.push(e));
    await trainer.fit(data(), { epochs: 3, batchSize: 16, handleSignals: false });
    // Snapshots at steps 2, 4, 6 (every 2): the spike at step 7 rolls back to the weights after step 6 and skips.
    expect(weights.get(8)).toEqual(weights.get(6));
    expect(changes.map((e) => e.type)).toEqual(['learningRate:changed', 'lossSpikeGuard:detected']);
    expect(guard.lrScale).toBe(0.5);
    // Step 7 is epoch 1's last batch (4 per epoch): the lower rate applies from step 8, the first of epoch 2.
    expect(changes[0]).toMatchObject({ type: 'learningRate:changed', epoch: 2, step: 8, reason: 'spike-rollback' });
    expect(rates.get(8)).toBeCloseTo(schedule(7), 12);
    expect(rates.get(9)).toBeCloseTo(0.5 * schedule(8), 12);
    expect(rates.get(10)).toBeCloseTo(0.5 * schedule(9), 12);
    trainer.dispose();
  });

  it("'log' only reports; consecutive spikes with 'skip' stop the fit", async () => {
    const logged = smallTrainer();
    const logGuard = lossSpikeGuard({ window: 10, minHistory: 4, action: 'log' });
    const seen: PolicyEvent[] = [];
    logGuard.events$.subscribe((e) => seen.push(e));
    logged.use(corruptLoss(new Set([5]), 'spike')).use(logGuard);
    await logged.fit(data(), { epochs: 2, batchSize: 16, handleSignals: false });
    // Logging does not protect the weights: the ×1000 step damages them and the next losses are spikes too.
    expect(seen[0]).toMatchObject({ type: 'lossSpikeGuard:detected', step: 5, action: 'log', consecutive: 1 });
    expect(seen.length).toBeGreaterThan(1);
    logged.dispose();

    const diverging = smallTrainer();
    diverging.use(corruptLoss(new Set([5, 6, 7, 8, 9]), 'spike')).use(lossSpikeGuard({ window: 10, minHistory: 4, maxConsecutive: 3 }));
    const result = await diverging.fit(data(), { epochs: 5, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', step: 8 });
    expect(result.stopReason).toMatch(/^lossSpikeGuard: 3 consecutive loss spikes/);
    diverging.dispose();
  });
});

describe('terminateOnNaN (real training)', () => {
  it('stops at the first non-finite loss, skips that update (weights stay finite), emits terminateOnNaN:stopped', async () => {
    const trainer = smallTrainer();
    const model = modelOf(trainer);
    const events: PolicyEvent<'terminateOnNaN:stopped'>[] = [];
    trainer.events$.pipe(ofType('terminateOnNaN:stopped')).subscribe((e) => events.push(e));
    trainer.use(corruptLoss(new Set([5]), 'nan')).use(terminateOnNaN());
    const result = await trainer.fit(data(), { epochs: 5, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', step: 6 });
    expect(result.stopReason).toMatch(/^terminateOnNaN: non-finite loss \(NaN\) at epoch 1, batch 1/);
    expect(events).toMatchObject([{ epoch: 1, step: 5, batch: 1, nonFiniteBatches: 1 }]);
    expect(Number.isNaN(events[0]!.loss)).toBe(true);
    expect(weightsOf(model).flat().every(Number.isFinite)).toBe(true);
    trainer.dispose();
  });

  it('every: n counts non-finite losses on the device and reads once per n batches', async () => {
    const trainer = smallTrainer();
    const events: PolicyEvent<'terminateOnNaN:stopped'>[] = [];
    const guard = terminateOnNaN({ every: 4 });
    guard.events$.subscribe((e) => events.push(e));
    trainer.use(corruptLoss(new Set([5]), 'nan')).use(guard);
    const result = await trainer.fit(data(), { epochs: 5, batchSize: 16, handleSignals: false });
    // The NaN at step 5 is found at the check after the 8th batch (step 7), not lost between checks; its update was
    // applied (no check ran then), so steps 6 and 7 are non-finite too: the cost of checking less often.
    expect(result).toMatchObject({ reason: 'stopped', step: 8 });
    expect(events).toMatchObject([{ step: 7, nonFiniteBatches: 3 }]);
    trainer.dispose();
  });
});

describe('timeBudget', () => {
  it('stops after the budget (fake clock), requests a final checkpoint, and emits timeBudget:expired', async () => {
    const { mkdtempSync, rmSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'callbacks-timer-'));
    try {
      let clock = 0;
      const trainer = smallTrainer();
      const budget = timeBudget({ seconds: 1, checkpoint: true, now: () => clock });
      trainer.events$.pipe(ofType('step:end')).subscribe(() => (clock += 150));
      const expired: PolicyEvent<'timeBudget:expired'>[] = [];
      budget.events$.subscribe((e) => expired.push(e));
      trainer.use(budget);
      const result = await trainer.fit(data(), { epochs: 10, batchSize: 16, checkpointDir: dir, handleSignals: false });
      // The trainer's own step:end subscriber advances the clock before the plugin's: 7 × 150 ms ≥ 1 s.
      expect(result).toMatchObject({ reason: 'stopped', step: 7 });
      expect(expired).toMatchObject([{ step: 7, budgetMs: 1000, elapsedMs: 1050, checkpointRequested: true }]);
      expect(existsSync(join(dir, 'latest.json'))).toBe(true);
      expect(budget.remainingMs()).toBe(0);
      trainer.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("interval 'epoch' finishes the epoch; the budget is validated", async () => {
    let clock = 0;
    const trainer = smallTrainer();
    trainer.events$.pipe(ofType('step:end')).subscribe(() => (clock += 100));
    trainer.use(timeBudget({ milliseconds: 500, interval: 'epoch', now: () => clock }));
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', epochs: 2, step: 8 });
    expect(() => timeBudget({})).toThrow(/give a budget > 0/);
    trainer.dispose();
  });
});

describe('lambda callbacks', () => {
  it('a custom callback is a few lines of RxJS, with or without the callback() sugar', async () => {
    const trainer = smallTrainer();
    const everyOther: number[] = [];
    const viaSugar: number[] = [];
    trainer.events$.pipe(ofType('epoch:end'), filter((e) => e.epoch % 2 === 0)).subscribe((e) => everyOther.push(e.epoch));
    trainer.use(callback('every-other', (events$, control) => events$.pipe(ofType('epoch:end'), filter((e) => e.epoch % 2 === 0)).subscribe((e) => {
      viaSugar.push(e.epoch);
      if (e.epoch === 4) control.stop('enough');
    })));
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 32, handleSignals: false });
    expect(everyOther).toEqual([0, 2, 4]);
    expect(viaSugar).toEqual([0, 2, 4]);
    expect(result.stopReason).toBe('enough');
    expect(() => callback('', () => undefined)).toThrow(/name must be a non-empty string/);
    trainer.dispose();
  });
});
