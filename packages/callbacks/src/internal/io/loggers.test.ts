import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, first, firstValueFrom, lastValueFrom, map, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ofType, selectBackend, type TrainerEvent } from '@fitstream/core';
import { backupAndRestore, callback, csvLogger, earlyStopping, earlyStoppingPolicy, jsonlLogger, parseEventLog, replay } from '../../index.js';
import { blobs, corruptLoss, smallTrainer } from '../../test-support/fixtures.js';
import { formatDuration, formatMetric } from './format.js';

let tmp: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-logs-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('formatMetric', () => {
  it('keeps four significant digits and never prints a small loss as zero', () => {
    expect(formatMetric(0.523412)).toBe('0.5234');
    expect(formatMetric(0.0123456)).toBe('0.01235');
    expect(formatMetric(4e-5)).toBe('4.000e-5');
    expect(formatMetric(123456)).toBe('1.235e5');
    expect(formatMetric(12.5)).toBe('12.50');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(Number.NaN)).toBe('NaN');
    expect(formatMetric(-Infinity)).toBe('-Infinity');
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(65_000)).toBe('1m05s');
  });
});

describe('jsonlLogger + replay', () => {
  it('logs every event in order; replay gives back the same stream (batch metrics only where read)', async () => {
    const path = join(tmp, 'events.jsonl');
    const trainer = smallTrainer({ optimizer: 'adam' });
    const live: TrainerEvent[] = [];
    trainer.events$.subscribe((e) => live.push(e as TrainerEvent));
    trainer.use(jsonlLogger({ path, readBatchMetricsEvery: 3 }));
    const data = blobs(64);
    await trainer.fit(data, { epochs: 3, batchSize: 16, validation: blobs(16, 3, 2, 8), handleSignals: false });

    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text.split('\n')[0]!)).toEqual({ format: 'fitstream-events', version: 1 });
    const replayed = await lastValueFrom(replay(path).pipe(toArray()));
    expect(replayed.map((e) => e.type)).toEqual(live.filter((e) => e.type !== 'backend:selected').map((e) => e.type));
    // Epoch events round-trip exactly.
    const liveEpochs = live.filter((e) => e.type === 'epoch:end').map((e) => JSON.parse(JSON.stringify(e)) as unknown);
    expect(replayed.filter((e) => e.type === 'epoch:end')).toEqual(liveEpochs);
    // Steps 3, 6, 9, 12 were read by the logger; the others were not read by anyone.
    const steps = replayed.filter((e) => e.type === 'step:end');
    const withMetrics = steps.filter((e) => (JSON.parse(text.split('\n').find((l) => l.includes(`"step:end"`) && l.includes(`"step":${e.step},`))!) as { metrics?: object }).metrics);
    expect(withMetrics.map((e) => e.step)).toEqual([3, 6, 9, 12]);
    expect(steps[2]!.metrics.loss).toBeGreaterThan(0);
    expect(() => steps[0]!.metrics.loss).toThrow(/were not recorded; log with jsonlLogger\(\{ readBatchMetricsEvery: 1 \}\)/);
  });

  it('writes batch metrics that another subscriber read, without reading them itself', async () => {
    const path = join(tmp, 'read-by-others.jsonl');
    const trainer = smallTrainer();
    trainer.use(callback('reader', (events$) => events$.pipe(ofType('batch:end'), filter((e) => e.batch === 1)).subscribe((e) => void e.metrics.loss)));
    trainer.use(jsonlLogger({ path }));
    await trainer.fit(blobs(64), { epochs: 1, batchSize: 16, handleSignals: false });
    const events = parseEventLog(await readFile(path, 'utf8'), { include: ['batch:end'] });
    expect(events.map((e) => 'metrics' in e && JSON.stringify(e.metrics) !== '{}')).toHaveLength(4);
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.includes('"batch:end"'));
    expect(lines.map((l) => l.includes('"metrics"'))).toEqual([false, true, false, false]);
  });

  it('flushes after every backup and checkpoint, mid-epoch: a kill loses at most the steps since the last backup', async () => {
    const path = join(tmp, 'flush-on-backup.jsonl');
    const trainer = smallTrainer();
    // What a process killed right before the next batch would leave on disk, read when the loop goes on after a save.
    const onDisk: { saved: string; step: number; text: string }[] = [];
    let pending: { saved: string; step: number } | undefined;
    trainer.use(jsonlLogger({ path, readBatchMetricsEvery: 1 }));
    trainer.use(backupAndRestore({ dir: join(tmp, 'flush-backup'), everySteps: 3, everyEpochs: false, deleteOnFinish: false }));
    trainer.use(
      callback('disk-reader', (events$) =>
        events$.subscribe((e) => {
          if (e.type === 'backupAndRestore:saved' || e.type === 'checkpoint:saved') pending = { saved: e.type, step: e.step };
          else if (e.type === 'batch:start' && pending) {
            onDisk.push({ ...pending, text: readFileSync(path, 'utf8') });
            pending = undefined;
          }
        }),
      ),
    );
    // One epoch of 8 steps: without the flush on backups nothing would reach the file before the epoch ends.
    await trainer.fit(blobs(128), { epochs: 1, batchSize: 16, handleSignals: false });

    expect(onDisk.map((d) => [d.saved, d.step])).toEqual([['backupAndRestore:saved', 3], ['backupAndRestore:saved', 6]]);
    for (const { step, text } of onDisk) {
      const logged = parseEventLog(text);
      expect(logged.filter((e) => e.type === 'step:end').map((e) => e.step)).toEqual(Array.from({ length: step }, (_, i) => i + 1));
      expect(logged.filter((e) => e.type === 'checkpoint:saved').map((e) => e.step)).toEqual(Array.from({ length: step / 3 }, (_, i) => 3 * (i + 1)));
      expect(logged.at(-1)).toMatchObject({ type: 'backupAndRestore:saved', step });
      expect(logged.some((e) => e.type === 'epoch:end')).toBe(false);
    }
  });

  it('NaN and Infinity survive the round trip; a partial last line is skipped', async () => {
    const path = join(tmp, 'nan.jsonl');
    const trainer = smallTrainer();
    trainer.use(corruptLoss(new Set([0, 1, 2, 3]), 'nan'));
    trainer.use(jsonlLogger({ path, readBatchMetricsEvery: 1 }));
    await trainer.fit(blobs(64), { epochs: 1, batchSize: 16, handleSignals: false });
    const text = await readFile(path, 'utf8');
    expect(text).toContain('{"$number":"NaN"}');
    await writeFile(path, `${text}{"type":"step:e`);
    const epochs = await lastValueFrom(replay(path, { include: ['epoch:end'] }).pipe(toArray()));
    expect(epochs).toHaveLength(1);
    expect(epochs[0]!.type === 'epoch:end' && epochs[0]!.metrics.loss).toBeNaN();
  });

  it("replaying a recorded run through earlyStoppingPolicy stops at the same epoch as the live run", async () => {
    const path = join(tmp, 'early.jsonl');
    const trainer = smallTrainer({ optimizer: 'adam', seed: 3 });
    const stopper = earlyStopping({ monitor: 'val_loss', patience: 2, minDelta: 0.01, log: null });
    trainer.use(stopper).use(jsonlLogger({ path }));
    // Validation on other blobs, so val_loss stops improving before the epochs run out.
    const { reason, history } = await trainer.fit(blobs(64), { epochs: 60, batchSize: 16, validation: blobs(32, 3, 2, 21), handleSignals: false });
    expect(reason).toBe('stopped');
    const liveStop = stopper.state.stoppedEpoch;
    expect(liveStop).toBe(history.epochs.at(-1));

    const decision = await firstValueFrom(
      replay(path).pipe(
        ofType('epoch:end'),
        map((e) => ({ epoch: e.epoch, value: e.metrics.val_loss })),
        earlyStoppingPolicy({ monitor: 'val_loss', patience: 2, minDelta: 0.01 }),
        first((d) => d.action === 'stop'),
      ),
    );
    expect(decision.epoch).toBe(liveStop);
    // And offline tuning: with more patience the same run would have gone on longer (or to the end).
    const patient = await lastValueFrom(
      replay(path).pipe(ofType('epoch:end'), map((e) => ({ epoch: e.epoch, value: e.metrics.val_loss })), earlyStoppingPolicy({ patience: 0, minDelta: 0.01 }), filter((d) => d.action === 'stop'), toArray()),
    );
    expect(patient[0]!.epoch).toBeLessThanOrEqual(liveStop!);
    // The logged stop events are there too.
    const stops = await lastValueFrom(replay(path, { include: ['earlyStopping:stopped'] }).pipe(toArray()));
    expect(stops).toHaveLength(1);
  });
});

describe('csvLogger', () => {
  it('writes one row per epoch (Keras CSVLogger), empty validation cells in epochs without validation, appends on resume', async () => {
    const path = join(tmp, 'metrics.csv');
    const trainer = smallTrainer();
    trainer.use(csvLogger({ path }));
    const { history } = await trainer.fit(blobs(64), { epochs: 3, batchSize: 16, validation: blobs(16, 3, 2, 8), validationEvery: 2, handleSignals: false });
    const rows = (await readFile(path, 'utf8')).trim().split('\n').map((l) => l.split(','));
    expect(rows[0]).toEqual(['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'learning_rate', 'step', 'duration_ms']);
    expect(rows.slice(1).map((r) => r[0])).toEqual(['0', '1', '2']);
    expect(rows.slice(1).map((r) => Number(r[1]))).toEqual(history.logs.loss); // lossless
    expect(rows[1]![3]).toBe(''); // epoch 0: no validation
    expect(Number(rows[2]![3])).toBe(history.logs.val_loss![0]);

    const again = smallTrainer();
    again.use(csvLogger({ path, append: true, separator: ';' }));
    await again.fit(blobs(64), { epochs: 1, batchSize: 16, handleSignals: false });
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]!.split(';')[0]).toBe('0');
    expect(() => csvLogger({ path, separator: '"' })).toThrow(/separator/);
  });
});
