// Issue 17: a kill right after a backup is put in place — before its `checkpoint:saved` reaches the log — must not lose
// what was logged before it: the run resumed from that backup logs only what comes after it. A mid-epoch backup is
// taken at the step:end boundary, while the logger still holds that step:end record (it is written when the next event
// arrives); loggers now write and flush it in core's `control.beforeCheckpoint`, and the backup waits for the flush.
//
// The witness below is used before the loggers, so at each `checkpoint:saved` it sees the files as a kill at that moment
// (the backup renamed into place, its announcement not yet logged) would leave them; it keeps a copy of them.
import { cpSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, selectBackend, type Plugin } from '@fitstream/core';
import { backupAndRestore, csvLogger, earlyStopping, jsonlLogger, reduceLROnPlateau } from '../../index.js';
import { blobs, mlp } from '../../test-support/fixtures.js';

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  root = await mkdtemp(join(tmpdir(), 'fitstream-log-before-checkpoint-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const { data, validation } = tf.tidy(() => {
  const all = blobs(72, 4, 3, 4);
  return { data: { x: all.x.slice(0, 48), y: all.y.slice(0, 48) }, validation: { x: all.x.slice(48), y: all.y.slice(48) } };
});
afterAll(() => tf.dispose([data.x, data.y, validation.x, validation.y]));

/** What a kill at one backup's `checkpoint:saved` leaves: the log and CSV on disk, and a copy of the backup directory. */
interface Moment {
  readonly step: number;
  readonly batch: number;
  readonly reason: string;
  readonly log: string;
  readonly csv: string;
  readonly backup: string;
}

function witness(dir: string, moments: Moment[]): Plugin {
  return {
    name: 'witness',
    attach: (events$) =>
      events$.subscribe((e) => {
        if (e.type !== 'checkpoint:saved' || !e.path.endsWith('/backup/backup')) return;
        const backup = join(root, 'moments', String(moments.length));
        cpSync(join(dir, 'backup'), backup, { recursive: true });
        const read = (name: string) => readFileSync(join(dir, name), 'utf8');
        moments.push({ step: e.step, batch: e.batch, reason: e.reason, log: read('events.jsonl'), csv: read('metrics.csv'), backup });
      }),
  };
}

// 6 steps an epoch; a backup every 4 steps and at every epoch end: mid-epoch ones (steps 4 and 8), one after an
// epoch's last step before its validation (step 12, batch 6 of 6), epoch-boundary ones.
async function fit(dir: string, moments?: Moment[]): Promise<void> {
  const model = mlp(4, 12, 3, 7);
  const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.6 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 3, backend: 'current', log: null });
  if (moments) trainer.use(witness(dir, moments));
  trainer
    .use(earlyStopping({ monitor: 'val_loss', patience: 2, log: null }))
    .use(reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 0 }))
    .use(backupAndRestore({ dir: join(dir, 'backup'), everySteps: 4 }))
    .use(csvLogger({ path: join(dir, 'metrics.csv') }))
    // Flushes on its own every few records, as a long run's log does: the last ones before a backup are still buffered.
    .use(jsonlLogger({ path: join(dir, 'events.jsonl'), flushAtChars: 600 }));
  try {
    await trainer.fit(data, { epochs: 5, batchSize: 8, validation, handleSignals: false });
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const normaliseJsonl = (text: string) => text.replace(/"time":\d+/g, '"time":0').replace(/"durationMs":[-+0-9.e]+/g, '"durationMs":0');
const normaliseCsv = (text: string) => text.replace(/,[^,\n]*\n/g, ',<duration_ms>\n');
/** The announcements of the backup at `step`: logged after it is in place, so a kill before them loses them for good. */
const announces = (line: string, moment: Moment) => {
  const r = JSON.parse(line) as { type: string; step?: number; reason?: string };
  return (r.type === 'checkpoint:saved' && r.reason === moment.reason) || (r.type === 'backupAndRestore:saved' && `backupAndRestore: ${r.reason}` === moment.reason);
};

describe('a kill right after a backup is in place, before it is announced', () => {
  const dir = () => join(root, 'run');
  let reference: { log: string; csv: string };
  const moments: Moment[] = [];

  beforeAll(async () => {
    await fit(dir(), moments);
    reference = { log: await readFile(join(dir(), 'events.jsonl'), 'utf8'), csv: await readFile(join(dir(), 'metrics.csv'), 'utf8') };
  });

  it('finds every record logged before the backup on disk (mid-epoch backups too: the held step:end is written and flushed first)', () => {
    expect(moments.map((m) => m.step)).toEqual(expect.arrayContaining([4, 8, 12, 16]));
    expect(moments.some((m) => m.batch > 0 && m.batch < 6)).toBe(true);
    const all = lines(reference.log);
    for (const moment of moments) {
      // What is on disk is a prefix of the finished log, and it reaches the backup's own announcement.
      expect(reference.log.startsWith(moment.log), moment.reason).toBe(true);
      const announcement = all.findIndex((l) => announces(l, moment));
      expect(lines(moment.log).length, `${moment.reason}: lines on disk when it was put in place`).toBeGreaterThanOrEqual(announcement);
    }
  });

  it('resumed from that backup, ends with the uninterrupted log but for that backup’s announcements, and the same CSV', async () => {
    for (const moment of moments.filter((m) => m.step === 8 || m.step === 12)) {
      await rm(dir(), { recursive: true, force: true });
      await cp(moment.backup, join(dir(), 'backup'), { recursive: true });
      await writeFile(join(dir(), 'events.jsonl'), moment.log);
      await writeFile(join(dir(), 'metrics.csv'), moment.csv);
      await fit(dir());
      const expected = lines(reference.log).filter((l) => !announces(l, moment));
      expect(lines(reference.log).length - expected.length, moment.reason).toBe(2);
      expect(lines(normaliseJsonl(await readFile(join(dir(), 'events.jsonl'), 'utf8'))), `events.jsonl resumed from ${moment.reason}`).toEqual(lines(normaliseJsonl(expected.join('\n'))));
      expect(normaliseCsv(await readFile(join(dir(), 'metrics.csv'), 'utf8')), `metrics.csv resumed from ${moment.reason}`).toBe(normaliseCsv(reference.csv));
    }
  });
});
