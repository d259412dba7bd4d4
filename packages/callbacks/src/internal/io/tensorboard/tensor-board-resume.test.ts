import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, selectBackend, withSeed, type Plugin } from '@fitstream/core';
import { modelCheckpoint, tensorBoard } from '../../../index.js';
import { blobs } from '../../../test-support/fixtures.js';
import { continueEventFile, eventBytesBefore } from './resume.js';
import { fileVersionEvent, histogramEvent, histogramOf, readEventFile, readTfRecords, scalarEvent, tfRecord, type DecodedEvent } from './tfevents.js';

/**
 * A resumed run's TensorBoard files equal the uninterrupted run's: a fit stopped after an epoch or mid-epoch and resumed
 * in a fresh trainer from a checkpoint continues each run's event file (same name), cut back to the checkpoint, so the
 * directories hold the same files with the same records — up to wall times and `epoch_steps_per_second`, the only
 * fields normalised (and the per-process suffix tfjs gives variable names, `_1`, in gradient tags). Read back with
 * the package's reader; every byte of every file is a complete record.
 */

const EPOCHS = 4;
const BATCH = 8; // 48 samples: 6 steps per epoch
/** The mid-epoch checkpoint: after step 15 (epoch 2, batch 3 of 6). */
const MID_STEP = 15;
const RUNS = ['train', 'validation'] as const;

let root: string;
beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  root = await mkdtemp(join(tmpdir(), 'fitstream-tb-resume-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const { data, validation } = tf.tidy(() => {
  const all = blobs(72, 4, 3, 4);
  return { data: { x: all.x.slice(0, 48), y: all.y.slice(0, 48) }, validation: { x: all.x.slice(48), y: all.y.slice(48) } };
});
afterAll(() => tf.dispose([data.x, data.y, validation.x, validation.y]));

type Stop = { readonly epoch: number } | { readonly step: number };

/** Writes the mid-epoch checkpoint in every run and, in an interrupted one, stops there (as SIGINT does). */
function interrupt(dir: string, at: Stop | undefined): Plugin {
  return {
    name: 'interrupt',
    attach: (events$, control) =>
      events$.subscribe((e) => {
        if (e.type === 'step:end' && e.step === MID_STEP) void control.saveCheckpoint(join(dir, 'mid'), 'mid-epoch');
        if (!at) return;
        if (('epoch' in at && e.type === 'epoch:end' && e.epoch === at.epoch) || ('step' in at && e.type === 'step:end' && e.step === at.step)) control.stop('SIGINT');
      }),
  };
}

/** A seeded MLP whose layers are named (tfjs numbers unnamed layers per process): the weight histograms' tags. */
function mlp(): tf.Sequential {
  return withSeed(7, () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ name: 'hidden', inputShape: [4], units: 12, activation: 'relu' }));
    model.add(tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }));
    return model;
  });
}

async function fit(dir: string, options: { stop?: Stop; resumeFrom?: string } = {}) {
  const model = mlp();
  const tb = tensorBoard({ logDir: join(dir, 'tb'), updateFreq: 2, histogramFreq: 1, gradientFreq: 3, buckets: 8 });
  const trainer = createTrainer({ model, optimizer: { name: 'adam', learningRate: 0.05 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 3, backend: 'cpu', log: null })
    .use(modelCheckpoint({ dir: join(dir, 'ckpt') }))
    .use(tb)
    .use(interrupt(dir, options.stop));
  try {
    await trainer.fit(data, { epochs: EPOCHS, batchSize: BATCH, validation, handleSignals: false, ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}) });
    return tb.files;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** A run's event files: name → decoded events with the wall-clock fields zeroed. */
async function eventFiles(dir: string, run: string) {
  const names = (await readdir(join(dir, 'tb', run))).sort();
  const files = new Map<string, DecodedEvent[]>();
  for (const name of names) {
    const bytes = await readFile(join(dir, 'tb', run, name));
    expect(readTfRecords(bytes).end, `${run}/${name} has no torn record`).toBe(bytes.length);
    const events = readEventFile(bytes).map((e) => ({
      ...e,
      wallTime: 0,
      // tfjs numbers variable names per process (`hidden/kernel_1` in a second model): gradient tags lose the suffix.
      values: e.values.map((v) => ({ ...v, tag: v.tag.replace(/_\d+$/, ''), ...(v.tag === 'epoch_steps_per_second' ? { simpleValue: 0 } : {}) })),
    }));
    files.set(name, events);
  }
  return files;
}

const checkpointAfterEpoch = async (dir: string, epoch: number) =>
  join(dir, 'ckpt', (await readdir(join(dir, 'ckpt'))).find((n) => n.startsWith(`epoch-${String(epoch + 1).padStart(4, '0')}-`))!);

describe('tensorBoard on resume', () => {
  const reference = new Map<string, Map<string, DecodedEvent[]>>();

  beforeAll(async () => {
    const dir = join(root, 'reference');
    await fit(dir);
    for (const run of RUNS) reference.set(run, await eventFiles(dir, run));
  });

  it('the reference run writes every kind of record the cut sorts', () => {
    const [train] = [...reference.get('train')!.values()];
    const tags = new Set(train!.flatMap((e) => e.values.map((v) => v.tag)));
    for (const tag of ['epoch_loss', 'batch_loss', 'epoch_learning_rate', 'epoch_steps_per_second']) expect(tags).toContain(tag);
    expect([...tags].some((t) => t.startsWith('gradients/'))).toBe(true);
    expect([...tags].some((t) => t.endsWith('/kernel') && !t.startsWith('gradients/'))).toBe(true);
    expect(reference.get('train')!.size).toBe(1);
    const [validationFile] = [...reference.get('validation')!.values()];
    expect(validationFile!.filter((e) => e.values.some((v) => v.tag === 'epoch_loss'))).toHaveLength(EPOCHS);
  });

  /** Stops a run, optionally tears its files, resumes it in a fresh trainer and compares with the reference. */
  const resume = async (name: string, stop: Stop, checkpoint: (dir: string) => Promise<string>, tear?: (path: string) => Promise<void>) => {
    const dir = join(root, name);
    const tensors = tf.memory().numTensors;
    const stoppedFiles = await fit(dir, { stop });
    if (tear) for (const path of stoppedFiles) await tear(path);
    const resumedFiles = await fit(dir, { resumeFrom: await checkpoint(dir) });
    expect(tf.memory().numTensors).toBe(tensors);
    // The resumed fit continued the stopped fit's files, under their names.
    expect(resumedFiles).toEqual(stoppedFiles);
    for (const run of RUNS) {
      const resumed = await eventFiles(dir, run);
      expect([...resumed.keys()], `${name}: ${run} holds one file, no temporaries`).toEqual([...resumed.keys()].filter((n) => !n.startsWith('.')));
      expect([...resumed.values()], `${name}: ${run} equals the uninterrupted run`).toEqual([...reference.get(run)!.values()]);
    }
  };

  it('stopped after an epoch and resumed from its checkpoint: the same file is continued', async () => {
    await resume('epoch', { epoch: 1 }, (d) => checkpointAfterEpoch(d, 1));
  });

  it('stopped after epoch 2 and resumed from the checkpoint of epoch 0: the epoch and step records past it are cut', async () => {
    await resume('earlier', { epoch: 2 }, (d) => checkpointAfterEpoch(d, 0));
  });

  it('stopped mid-epoch and resumed from the mid-epoch checkpoint', async () => {
    await resume('mid', { step: MID_STEP + 2 }, async (d) => join(d, 'mid'));
  });

  it('a torn last record (half a record, or a bad CRC) is dropped before appending', async () => {
    const half = tfRecord(scalarEvent('batch_loss', 1, MID_STEP + 3)).subarray(0, 20);
    await resume('torn-half', { step: MID_STEP + 2 }, async (d) => join(d, 'mid'), (path) => appendFile(path, half));
    const bad = tfRecord(scalarEvent('epoch_loss', 1, 1));
    bad[bad.length - 1]! ^= 0xff;
    await resume('torn-crc', { epoch: 1 }, (d) => checkpointAfterEpoch(d, 1), (path) => appendFile(path, bad));
  });
});

describe('eventBytesBefore', () => {
  const at = { epoch: 2, batch: 3, step: 15 };
  const records = [
    tfRecord(fileVersionEvent(1)),
    tfRecord(scalarEvent('epoch_loss', 0.5, 1, 2)), // epoch 1 < 2: kept
    tfRecord(histogramEvent('batch_normalization_1/gamma', histogramOf([1, 2, 3]), 1, 2)), // a weight at epoch 1, not a batch scalar
    tfRecord(histogramEvent('gradients/dense/kernel', histogramOf([1, 2]), 15, 2)), // update 15: kept
    tfRecord(scalarEvent('batch_loss', 0.4, 15, 2)), // kept
    tfRecord(scalarEvent('batch_loss', 0.3, 16, 2)), // after the checkpoint: cut here
    tfRecord(scalarEvent('epoch_loss', 0.5, 1, 2)),
  ];
  const concat = (parts: readonly Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
  const kept = concat(records.slice(0, 5)).length;

  it('keeps the records up to the checkpoint: per-epoch values of earlier epochs, per-step values up to its step', () => {
    expect(eventBytesBefore(concat(records), at)).toBe(kept);
    expect(eventBytesBefore(concat(records), { epoch: 1, batch: 0, step: 12 })).toBe(concat(records.slice(0, 1)).length);
    expect(eventBytesBefore(concat(records.slice(0, 5)), at)).toBe(kept);
  });

  it('drops a torn record and everything behind it: a cut length, a bad length CRC, a bad data CRC', () => {
    const good = concat(records.slice(0, 3));
    const next = records[3]!;
    expect(eventBytesBefore(concat([good, next.subarray(0, 5)]), at)).toBe(good.length);
    expect(eventBytesBefore(concat([good, next.subarray(0, next.length - 1)]), at)).toBe(good.length);
    const badLength = Uint8Array.from(next);
    badLength[0]! ^= 1;
    expect(eventBytesBefore(concat([good, badLength, records[4]!]), at)).toBe(good.length);
    const badData = Uint8Array.from(next);
    badData[14]! ^= 1;
    expect(eventBytesBefore(concat([good, badData, records[4]!]), at)).toBe(good.length);
  });

  it('continueEventFile picks the newest file, cuts it atomically under its name and clears a killed rewrite', async () => {
    const dir = join(root, 'unit');
    const older = join(dir, 'events.out.tfevents.1700000100.host');
    const newer = join(dir, 'events.out.tfevents.1700000000.host.2'); // an earlier name, a later version record
    const full = concat([tfRecord(fileVersionEvent(1_700_000_100)), ...records.slice(1)]);
    const untouched = concat([tfRecord(fileVersionEvent(1_700_000_050)), ...records.slice(1)]);
    await mkdir(dir, { recursive: true });
    await writeFile(older, untouched);
    await writeFile(newer, full);
    await writeFile(join(dir, '.events.out.tfevents.1700000000.host.2.tmp-1-abcd'), 'half');
    expect(await continueEventFile(dir, at)).toBe(newer);
    expect((await readdir(dir)).sort()).toEqual([newer, older].map((p) => p.slice(dir.length + 1)).sort());
    expect(new Uint8Array(await readFile(newer))).toEqual(full.subarray(0, full.length - records[5]!.length - records[6]!.length));
    expect(new Uint8Array(await readFile(older))).toEqual(untouched);
    expect(await continueEventFile(join(dir, 'none'), at)).toBeUndefined();
  });
});
