import type * as tf from '@tensorflow/tfjs';
import { filter, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { ofType, selectBackend, type EventOf } from '@fitstream/core';
import { callback, earlyStopping, earlyStoppingPolicy, type EarlyStoppingDecision, type MonitoredEpoch, type PolicyEvent } from '../../index.js';
import { blobs, smallTrainer, weightsOf } from '../../test-support/fixtures.js';

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
});

const letter: Record<EarlyStoppingDecision['action'], string> = { ignored: 'x', improved: 'i', waiting: 'w', stop: 'S' };
const epochs = (values: (number | undefined)[]): Record<string, MonitoredEpoch> =>
  Object.fromEntries(values.map((value, epoch) => [String.fromCharCode(97 + epoch), { epoch, value }]));

/** Runs the policy over one value per frame and compares the action letters. */
function expectActions(options: Parameters<typeof earlyStoppingPolicy>[0], values: (number | undefined)[], expected: string): void {
  new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold, expectObservable }) => {
    const marble = `${values.map((_, i) => String.fromCharCode(97 + i)).join('')}|`;
    const actions = cold(marble, epochs(values)).pipe(earlyStoppingPolicy(options), map((d) => letter[d.action]));
    expectObservable(actions).toBe(`${expected}|`, Object.fromEntries([...expected].map((c) => [c, c])));
  });
}

describe('earlyStoppingPolicy (pure operator, Keras EarlyStopping semantics)', () => {
  it('stops once wait reaches patience on an epoch without improvement', () => {
    expectActions({ patience: 2 }, [1.0, 0.9, 0.95, 0.96, 0.5], 'iiwSi');
  });

  it('patience 0 stops at the first non-improving epoch, but never at epoch 0', () => {
    expectActions({ patience: 0 }, [1.0, 1.1], 'iS');
    expectActions({ patience: 0, baseline: 0.1 }, [0.5, 0.6], 'iS');
  });

  it('minDelta is an absolute threshold; mode auto maximises accuracy-like names', () => {
    expectActions({ patience: 1, minDelta: 0.01 }, [1.0, 0.995, 0.98], 'iSi');
    expectActions({ monitor: 'val_accuracy', patience: 1 }, [0.5, 0.6, 0.55], 'iiS');
    expectActions({ monitor: 'val_auc', patience: 1 }, [0.5, 0.4], 'iS');
    expectActions({ monitor: 'val_accuracy', mode: 'min', patience: 1 }, [0.5, 0.4], 'ii');
  });

  it('baseline: improvements that do not beat it keep counting, and stop at the first non-improving epoch (as Keras)', () => {
    expectActions({ patience: 2, baseline: 0.5 }, [0.8, 0.7, 0.6, 0.65], 'iiiS');
    expectActions({ patience: 2, baseline: 0.5 }, [0.8, 0.4, 0.45, 0.46], 'iiwS');
  });

  it('ignores epochs before startFromEpoch and epochs without a value (no validation that epoch)', () => {
    expectActions({ patience: 1, startFromEpoch: 2 }, [0.1, 0.2, 1.0, 1.1], 'xxiS');
    expectActions({ patience: 1 }, [1.0, undefined, 1.2], 'ixS');
  });

  it('a NaN never becomes the best value', () => {
    expectActions({ patience: 1 }, [Number.NaN, 1.0, Number.NaN], 'wiS');
  });

  it('replays a recorded run offline: which patience would have stopped where', () => {
    const recorded = [0.9, 0.7, 0.6, 0.62, 0.61, 0.63, 0.55, 0.56, 0.58, 0.6];
    const stopAt = (patience: number) => {
      let stopped: number | undefined;
      new TestScheduler((a, e) => expect(a).toEqual(e)).run(({ cold }) => {
        cold(`${recorded.map((_, i) => String.fromCharCode(97 + i)).join('')}|`, epochs(recorded))
          .pipe(earlyStoppingPolicy({ patience }), filter((d) => d.action === 'stop'))
          .subscribe((d) => (stopped ??= d.epoch));
      });
      return stopped;
    };
    expect([1, 2, 3, 4].map(stopAt)).toEqual([3, 4, 5, undefined]);
  });
});

describe('earlyStopping plugin (real training)', () => {
  const data = () => blobs(48);

  it('restores the best weights when the fit completes without early stopping (as Keras 3; tf.keras 2 would not)', async () => {
    const trainer = smallTrainer();
    const model = (trainer as unknown as { options: { model: tf.LayersModel } }).options.model;
    const atEpoch: number[][][] = [];
    // mode 'max' on the training loss: the best epoch is the first one (the loss falls), so restoring is visible.
    const stopper = earlyStopping({ monitor: 'loss', mode: 'max', patience: 100, restoreBestWeights: true, log: null });
    const seen: PolicyEvent[] = [];
    stopper.events$.subscribe((e) => seen.push(e));
    trainer.use(stopper).use(callback('record', (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => atEpoch.push(weightsOf(model)))));
    const result = await trainer.fit(data(), { epochs: 4, batchSize: 16, handleSignals: false });
    expect(result.reason).toBe('completed');
    expect(stopper.state.bestEpoch).toBe(0);
    expect(weightsOf(model)).toEqual(atEpoch[0]);
    expect(weightsOf(model)).not.toEqual(atEpoch[3]);
    expect(seen).toMatchObject([{ type: 'earlyStopping:restored', monitor: 'loss', bestEpoch: 0, reason: 'completed' }]);
    trainer.dispose();
  });

  it('restores the best weights when another plugin stopped the fit', async () => {
    const trainer = smallTrainer();
    const model = (trainer as unknown as { options: { model: tf.LayersModel } }).options.model;
    const atEpoch: number[][][] = [];
    trainer
      .use(earlyStopping({ monitor: 'loss', mode: 'max', patience: 100, restoreBestWeights: true, log: null }))
      .use(callback('record', (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => atEpoch.push(weightsOf(model)))))
      .use(callback('stop-at-2', (e$, control) => e$.pipe(ofType('epoch:end'), filter((e) => e.epoch === 2)).subscribe(() => control.stop('other plugin'))));
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 16, handleSignals: false });
    expect(result).toMatchObject({ reason: 'stopped', stopReason: 'other plugin' });
    expect(weightsOf(model)).toEqual(atEpoch[0]);
    trainer.dispose();
  });

  it('stops by itself, emits earlyStopping:stopped on trainer.events$, and restores', async () => {
    const trainer = smallTrainer();
    const model = (trainer as unknown as { options: { model: tf.LayersModel } }).options.model;
    const atEpoch: number[][][] = [];
    const events: EventOf<'earlyStopping:stopped' | 'earlyStopping:restored'>[] = [];
    trainer.events$.pipe(ofType('earlyStopping:stopped', 'earlyStopping:restored')).subscribe((e) => events.push(e));
    trainer
      .use(earlyStopping({ monitor: 'loss', mode: 'max', patience: 2, restoreBestWeights: true }))
      .use(callback('record', (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => atEpoch.push(weightsOf(model)))));
    const result = await trainer.fit(data(), { epochs: 10, batchSize: 16, handleSignals: false });
    expect(result.reason).toBe('stopped');
    expect(result.stopReason).toMatch(/^early stopping: loss did not improve for 2 epochs/);
    expect(result.history.epochs).toEqual([0, 1, 2]);
    expect(weightsOf(model)).toEqual(atEpoch[0]);
    expect(events.map((e) => e.type)).toEqual(['earlyStopping:stopped', 'earlyStopping:restored']);
    expect(events[0]).toMatchObject({ epoch: 2, monitor: 'loss', bestEpoch: 0, wait: 2 });
    trainer.dispose();
  });

  it('without restoreBestWeights the last weights stay, as Keras', async () => {
    const trainer = smallTrainer();
    const model = (trainer as unknown as { options: { model: tf.LayersModel } }).options.model;
    let last: number[][] = [];
    trainer
      .use(earlyStopping({ monitor: 'loss', mode: 'max', patience: 1 }))
      .use(callback('record', (e$) => e$.pipe(ofType('epoch:end')).subscribe(() => (last = weightsOf(model)))));
    await trainer.fit(data(), { epochs: 5, batchSize: 16, handleSignals: false });
    expect(weightsOf(model)).toEqual(last);
    trainer.dispose();
  });

  it('a monitor the trainer never reports fails the fit before training, naming the available names', async () => {
    const trainer = smallTrainer();
    trainer.use(earlyStopping({ monitor: 'val_acc' as 'val_accuracy' }));
    await expect(trainer.fit(data(), { epochs: 2, batchSize: 16, handleSignals: false })).rejects.toThrow(
      /earlyStopping: monitor "val_acc" is not reported by this trainer\. Available: "accuracy", "loss", "val_accuracy", "val_loss"\./,
    );
    trainer.dispose();
  });

  it('a val_ monitor without validation data is skipped with one warning line', async () => {
    const trainer = smallTrainer();
    const lines: string[] = [];
    const stopper = earlyStopping({ monitor: 'val_loss', patience: 0, log: (l) => lines.push(l) });
    trainer.use(stopper);
    const result = await trainer.fit(data(), { epochs: 3, batchSize: 16, handleSignals: false });
    expect(result.reason).toBe('completed');
    expect(lines).toEqual(['earlyStopping: "val_loss" is missing from the logs of epoch 0 (no validation that epoch?); such epochs are skipped.']);
    trainer.dispose();
  });

  it('monitors validation logs', async () => {
    const trainer = smallTrainer();
    const stopper = earlyStopping({ monitor: 'val_accuracy', patience: 1 });
    trainer.use(stopper);
    const d = data();
    await trainer.fit(d, { epochs: 3, batchSize: 16, validation: d, handleSignals: false });
    expect(stopper.state.best).toBeGreaterThan(0);
    trainer.dispose();
  });
});
