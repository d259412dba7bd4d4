import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTrainer, ofType, type FitOptions, type History, type Plugin } from '@fitstream/core';
import { csvLogger, earlyStopping, ema, jsonlLogger, modelCheckpoint, reduceLROnPlateau, tensorBoard } from '../../index.js';
import { describeOnBackends, type TestBackend } from '../../test-support/backends.js';
import { blobs, mlp } from '../../test-support/fixtures.js';
import { readEventFile, scalarEvent, tfRecord, type DecodedEvent } from './tensorboard/tfevents.js';

/**
 * A resumed run equals the uninterrupted one: from every epoch's checkpoint and from a mid-epoch one, a fit stopped
 * there (as by SIGINT, a torn log line appended as by a kill) and resumed in a fresh trainer ends with bit-identical
 * weights, the same history, and the same CSV, JSONL and TensorBoard files — up to the wall-clock fields, which are the
 * only ones normalised: `time` (every event) and `durationMs` (`epoch:end`) in the JSONL, `duration_ms` in the CSV,
 * `wall_time` and `epoch_steps_per_second` in the event files (one per run, continued under its name on resume).
 */

const EPOCHS = 12;
const BATCH = 8;
/** The optimizer step after which the mid-epoch checkpoint is written (epoch 2, batch 3 of 6). */
const MID_STEP = 15;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fitstream-resume-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Where the run is interrupted: after an epoch's checkpoint, or at the mid-epoch checkpoint. */
type Interruption = { readonly epoch: number } | { readonly step: number };

/** Writes the mid-epoch checkpoint in every run (so that every log records it) and, in an interrupted run, stops there. */
function interrupt(dir: string, at: Interruption | undefined): Plugin {
  return {
    name: 'interrupt',
    attach: (events$, control) =>
      events$.subscribe((e) => {
        if (e.type === 'step:end' && e.step === MID_STEP) void control.saveCheckpoint(join(dir, 'mid'), 'mid-epoch'); // held by the loop
        if (!at) return;
        if (('epoch' in at && e.type === 'epoch:end' && e.epoch === at.epoch) || ('step' in at && e.type === 'step:end' && e.step === at.step)) control.stop('SIGINT');
      }),
  };
}

interface Outcome {
  readonly weights: number[][];
  readonly history: History;
  readonly csv: string;
  readonly jsonl: string;
  /** `train` and `validation`: each event file's name and events. */
  readonly tensorBoard: Readonly<Record<string, readonly { readonly name: string; readonly events: readonly DecodedEvent[] }[]>>;
  readonly events: readonly string[];
}

const normaliseCsv = (text: string) => text.replace(/,[^,\n]*\n/g, ',<duration_ms>\n');
const normaliseJsonl = (text: string) => text.replace(/"time":\d+/g, '"time":0').replace(/"durationMs":[-+0-9.e]+/g, '"durationMs":0');
const normaliseEvents = (events: readonly DecodedEvent[]) =>
  events.map((e) => ({ ...e, wallTime: 0, values: e.values.map((v) => (v.tag === 'epoch_steps_per_second' ? { ...v, simpleValue: 0 } : v)) }));
/** Each run's event files, in name order. */
async function readTensorBoard(dir: string): Promise<Outcome['tensorBoard']> {
  const runs: Record<string, { name: string; events: DecodedEvent[] }[]> = {};
  for (const run of ['train', 'validation']) {
    const names = (await readdir(join(dir, 'tb', run))).sort();
    runs[run] = await Promise.all(names.map(async (name) => ({ name, events: normaliseEvents(readEventFile(await readFile(join(dir, 'tb', run, name)))) })));
  }
  return runs;
}

/** Three overlapping classes, 48 samples to train on and 24 to validate (made once: the fixture leaks intermediates). */
const { data, validation } = tf.tidy(() => {
  const all = blobs(72, 4, 3, 4);
  return { data: { x: all.x.slice(0, 48), y: all.y.slice(0, 48) }, validation: { x: all.x.slice(48), y: all.y.slice(48) } };
});
afterAll(() => tf.dispose([data.x, data.y, validation.x, validation.y]));

async function fitOnce(backend: TestBackend, dir: string, options: { at?: Interruption; resumeFrom?: string } = {}) {
  const model = mlp(4, 12, 3, 7);
  const trainer = createTrainer({ model, optimizer: { name: 'sgd', learningRate: 0.6 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 3, backend, log: null })
    .use(earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true, log: null }))
    .use(reduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 0 }))
    // Validation sees the average; finalize off, so that the final weights are early stopping's best ones.
    .use(ema({ decay: 0.8, finalize: false }))
    .use(modelCheckpoint({ dir: join(dir, 'ckpt') }))
    .use(csvLogger({ path: join(dir, 'metrics.csv') }))
    .use(jsonlLogger({ path: join(dir, 'events.jsonl') }))
    // Scalars only: weight and gradient tags carry tfjs's per-process layer numbers (`dense_Dense12`).
    .use(tensorBoard({ logDir: join(dir, 'tb'), updateFreq: 4 }))
    .use(interrupt(dir, options.at));
  const events: string[] = [];
  trainer.events$.pipe(ofType('earlyStopping:stopped', 'earlyStopping:restored', 'learningRate:changed')).subscribe((e) => events.push(e.type));
  const fitOptions: FitOptions = { epochs: EPOCHS, batchSize: BATCH, validation: { x: validation.x, y: validation.y }, handleSignals: false, ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}) };
  try {
    const result = await trainer.fit({ x: data.x, y: data.y }, fitOptions);
    return { result, model, events };
  } finally {
    trainer.dispose();
  }
}

async function outcome(dir: string, fit: Awaited<ReturnType<typeof fitOnce>>): Promise<Outcome> {
  const weights = fit.model.getWeights().map((w) => Array.from(w.dataSync()));
  fit.model.dispose();
  return {
    weights,
    history: fit.result.history,
    csv: normaliseCsv(await readFile(join(dir, 'metrics.csv'), 'utf8')),
    jsonl: normaliseJsonl(await readFile(join(dir, 'events.jsonl'), 'utf8')),
    tensorBoard: await readTensorBoard(dir),
    events: fit.events,
  };
}

describeOnBackends('resume equals the uninterrupted run', (backend) => {
  // Every run works in the same directory, so that checkpoint paths in the logs agree.
  const dir = () => join(root, backend);
  let reference: Outcome;
  let stoppedAt: number;

  beforeAll(async () => {
    await rm(dir(), { recursive: true, force: true });
    const tensors = tf.memory().numTensors;
    const run = await fitOnce(backend, dir());
    reference = await outcome(dir(), run);
    stoppedAt = run.result.history.epochs.at(-1)!;
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('the run is worth resuming: early stopping stops it after its best epoch and the plateau cuts the rate', () => {
    expect(reference.events).toContain('earlyStopping:stopped');
    expect(reference.events).toContain('earlyStopping:restored');
    expect(reference.events).toContain('learningRate:changed');
    expect(stoppedAt).toBeLessThan(EPOCHS - 1);
    expect(stoppedAt).toBeGreaterThan(MID_STEP / 6);
    expect(reference.csv.split('\n')).toHaveLength(stoppedAt + 3); // header, one row per epoch, final newline
  });

  const resumeFrom = async (at: Interruption, checkpoint: (d: string) => Promise<string>) => {
    await rm(dir(), { recursive: true, force: true });
    const tensors = tf.memory().numTensors;
    const stopped = await fitOnce(backend, dir(), { at });
    stopped.model.dispose();
    // A kill mid-write leaves a torn last line.
    await appendFile(join(dir(), 'metrics.csv'), '99,0.1');
    await appendFile(join(dir(), 'events.jsonl'), '{"type":"batch:st');
    const stoppedTensorBoard = await readTensorBoard(dir());
    const train = join(dir(), 'tb', 'train', stoppedTensorBoard.train![0]!.name);
    await appendFile(train, tfRecord(scalarEvent('batch_loss', 0.1, 99)).subarray(0, 21));
    const resumed = await outcome(dir(), await fitOnce(backend, dir(), { resumeFrom: await checkpoint(dir()) }));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(resumed.weights, `weights resumed from ${JSON.stringify(at)}`).toEqual(reference.weights);
    expect(resumed.history, `history resumed from ${JSON.stringify(at)}`).toEqual(reference.history);
    expect(resumed.csv, `CSV resumed from ${JSON.stringify(at)}`).toBe(reference.csv);
    expect(resumed.jsonl, `JSONL resumed from ${JSON.stringify(at)}`).toBe(reference.jsonl);
    // One file per run, the interrupted fit's (continued under its name); the same records as the uninterrupted run's.
    expect(resumed.tensorBoard.train!.map((f) => f.name)).toEqual(stoppedTensorBoard.train!.map((f) => f.name));
    const events = (tb: Outcome['tensorBoard']) => Object.fromEntries(Object.entries(tb).map(([run, files]) => [run, files.map((f) => f.events)]));
    expect(events(resumed.tensorBoard), `TensorBoard resumed from ${JSON.stringify(at)}`).toEqual(events(reference.tensorBoard));
  };

  it('from every epoch checkpoint', async () => {
    for (let epoch = 0; epoch <= stoppedAt; epoch++) {
      // Named after the position it resumes at: the next epoch.
      await resumeFrom({ epoch }, async (d) => join(d, 'ckpt', (await readdir(join(d, 'ckpt'))).find((n) => n.startsWith(`epoch-${String(epoch + 1).padStart(4, '0')}-`))!));
    }
  });

  it('from a mid-epoch checkpoint', async () => {
    await resumeFrom({ step: MID_STEP }, async (d) => join(d, 'mid'));
  });
});
