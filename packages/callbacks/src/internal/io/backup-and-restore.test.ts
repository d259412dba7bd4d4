import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, ofType, readCheckpoint, selectBackend, type TrainerEvent } from '@fitstream/core';
import * as tf from '@tensorflow/tfjs';
import { backupAndRestore, callback, earlyStopping, ema } from '../../index.js';
import { blobs, mlp, weightsOf } from '../../test-support/fixtures.js';

function adamTrainer() {
  const model = mlp();
  return { model, trainer: createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 1, backend: 'current', log: null }) };
}

const packageRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
let tmp: string;

beforeAll(async () => {
  await selectBackend({ prefer: 'cpu', log: null });
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-backup-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

// The training script, run in a child process from source (tsx + the @fitstream/source condition). It builds the
// model under withSeed, so every run starts from the same weights; `DELAY_MS` slows steps down so that the test can
// interrupt it mid-epoch.
const SCRIPT = `
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { createTrainer, selectBackend, withSeed, Random, ofType } from '@fitstream/core';
import { backupAndRestore } from '@fitstream/callbacks';
await selectBackend({ prefer: 'cpu', log: null });
const r = Random.fromSeed(7);
const labels = Array.from({ length: 96 }, () => r.int(2));
const x = tf.tensor2d(labels.map((c) => [c + r.normal(), c - r.normal(), r.normal()]));
const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 2).toFloat();
const model = withSeed(3, () => tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [3], units: 8, activation: 'relu' }),
  tf.layers.dropout({ rate: 0.2 }),
  tf.layers.dense({ units: 2, activation: 'softmax' }),
] }));
const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 11, backend: 'current', log: null });
const delay = Number(process.env.DELAY_MS ?? 0);
trainer.use({ name: 'report', attach: (events$, control) => events$.subscribe((e) => {
  if (e.type === 'fit:start') console.log('resumed ' + JSON.stringify({ from: e.resumedFrom ?? null, epoch: e.initialEpoch, step: e.step }));
  if (e.type === 'step:end') {
    console.log('step ' + e.step);
    if (delay) control.await(new Promise((done) => setTimeout(done, delay)));
  }
}) });
const options = { epochs: 4, batchSize: 8, validation: { x, y } };
const result = process.env.MODE === 'plain'
  ? await trainer.fit({ x, y }, options)
  : await trainer.use(backupAndRestore({ dir: process.env.BACKUP_DIR, everySteps: 5 })).fit({ x, y }, options);
writeFileSync(process.env.OUT, JSON.stringify(model.getWeights().map((w) => Array.from(w.dataSync()))));
console.log('done ' + result.reason + ' ' + result.step);
`;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

/** Runs the script; `interrupt` sends a signal once the child prints `step <at>`. */
function run(env: Record<string, string>, interrupt?: { at: number; signal: NodeJS.Signals }): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--conditions=@fitstream/source', '--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
      cwd: packageRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let sent = false;
    let stderr = '';
    let rest = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (interrupt && !sent && line === `step ${interrupt.at}`) {
          sent = true;
          child.kill(interrupt.signal);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (rest) lines.push(rest);
      if (code !== 0 && signal === null) reject(new Error(`script failed (${code}):\n${stderr}`));
      else resolvePromise({ code, signal, lines });
    });
  });
}

const resumedLine = (r: Run) => JSON.parse(r.lines.find((l) => l.startsWith('resumed '))!.slice(8)) as { from: string | null; epoch: number; step: number };
const weightsFile = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as number[][];

describe('backupAndRestore: a killed training process resumes from its backup', () => {
  let reference: number[][];

  beforeAll(async () => {
    const out = join(tmp, 'reference.json');
    const r = await run({ MODE: 'plain', OUT: out });
    expect(r.lines.at(-1)).toBe('done completed 48');
    reference = await weightsFile(out);
  }, 60_000);

  it('SIGKILL mid-epoch, run again: resumes mid-epoch and ends with bit-identical weights', async () => {
    const dir = join(tmp, 'kill');
    const out = join(tmp, 'kill.json');
    const killed = await run({ BACKUP_DIR: dir, OUT: out, DELAY_MS: '40' }, { at: 17, signal: 'SIGKILL' });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(out)).toBe(false);
    const backup = await readCheckpoint(join(dir, 'backup'));
    expect(backup.state.batch).toBeGreaterThan(0); // mid-epoch
    expect(backup.state.step % 5).toBe(0); // every 5 steps

    const resumed = await run({ BACKUP_DIR: dir, OUT: out });
    const start = resumedLine(resumed);
    expect(start.from).toBe(join(dir, 'backup'));
    expect(start.step).toBe(backup.state.step);
    expect(resumed.lines.at(-1)).toBe('done completed 48');
    expect(await weightsFile(out)).toEqual(reference);
    expect(existsSync(join(dir, 'backup'))).toBe(false); // deleted once the run completed (Keras)
  }, 60_000);

  it('SIGINT writes a final backup at the interrupted step; the next run continues from it', async () => {
    const dir = join(tmp, 'sigint');
    const out = join(tmp, 'sigint.json');
    const interrupted = await run({ BACKUP_DIR: dir, OUT: out, DELAY_MS: '40' }, { at: 7, signal: 'SIGINT' });
    expect(interrupted.code).toBe(0);
    expect(interrupted.lines.at(-1)).toMatch(/^done stopped \d+$/);
    const stoppedAt = Number(interrupted.lines.at(-1)!.split(' ')[2]);
    expect(stoppedAt % 5).not.toBe(0); // not a periodic backup: the final one
    const backup = await readCheckpoint(join(dir, 'backup'));
    expect(backup.state.step).toBe(stoppedAt);

    const resumed = await run({ BACKUP_DIR: dir, OUT: out });
    expect(resumedLine(resumed).step).toBe(stoppedAt);
    expect(await weightsFile(out)).toEqual(reference);
  }, 60_000);
});

describe('backupAndRestore in process', () => {
  it('an exception writes a final backup; a plain fit of a fresh trainer resumes from it', async () => {
    const dir = join(tmp, 'error');
    const data = blobs(48);
    const uninterrupted = adamTrainer();
    await uninterrupted.trainer.fit(data, { epochs: 3, batchSize: 8, handleSignals: false });
    const expected = weightsOf(uninterrupted.model);

    const { trainer: first } = adamTrainer();
    const events: TrainerEvent[] = [];
    first.events$.subscribe((e) => events.push(e));
    first.use(callback('explode', (events$) => events$.pipe(ofType('step:end')).subscribe((e) => {
      if (e.step === 8) throw new Error('boom at step 8');
    })));
    const backup = backupAndRestore({ dir });
    await expect(first.use(backup).fit(data, { epochs: 3, batchSize: 8, handleSignals: false })).rejects.toThrow('boom at step 8');
    const saved = events.filter((e) => e.type === 'backupAndRestore:saved');
    expect(saved.at(-1)).toMatchObject({ step: 8, batch: 2, reason: 'error: boom at step 8' });
    expect(await backup.find()).toBe(join(resolve(dir), 'backup'));

    const { trainer: second, model } = adamTrainer();
    const restored: TrainerEvent[] = [];
    second.events$.pipe(ofType('backupAndRestore:restored', 'backupAndRestore:deleted')).subscribe((e) => restored.push(e));
    const result = await second.use(backupAndRestore({ dir })).fit(data, { epochs: 3, batchSize: 8, handleSignals: false });
    expect(result.reason).toBe('completed');
    expect(restored.map((e) => e.type)).toEqual(['backupAndRestore:restored', 'backupAndRestore:deleted']);
    expect(weightsOf(model)).toEqual(expected);
    expect(await backup.find()).toBeUndefined();
  });

  it('a SIGINT backup holds the weights being trained and the plugins\' state, though early stopping and EMA, used first, write into the model at fit:end', async () => {
    const { model, trainer } = adamTrainer();
    const dir = join(tmp, 'order');
    let trained: Map<string, tf.Tensor> | undefined;
    trainer
      // Best epoch 0 (the training loss only falls): restoring it at fit:end changes the weights.
      .use(earlyStopping({ monitor: 'loss', mode: 'max', patience: 100, restoreBestWeights: true, log: null }))
      .use(ema({ decay: 0.5 }))
      .use(backupAndRestore({ dir, everyEpochs: false }))
      .use(
        callback('interrupt', (events$, control) =>
          events$.pipe(ofType('epoch:end')).subscribe((e) => {
            if (e.epoch !== 2) return;
            trained = control.snapshotWeights();
            control.stop('SIGINT');
          }),
        ),
      );
    const data = blobs(32);
    const result = await trainer.fit({ x: data.x, y: data.y }, { epochs: 6, batchSize: 8, handleSignals: false });
    expect(result.stopReason).toBe('SIGINT');
    const backup = await readCheckpoint(join(dir, 'backup'));
    try {
      const saved = Object.values(backup.weights).map((t) => Array.from(t.dataSync()));
      const expected = [...trained!.values()].map((t) => Array.from(t.dataSync()));
      expect(saved).toEqual(expected);
      expect(weightsOf(model)).not.toEqual(expected); // the model got the average (finalize) after the backup was taken
      expect(Object.keys(backup.pluginTensors).sort()).toEqual(['early-stopping(loss)', 'ema']);
      expect(backup.state.plugins.ema).toMatchObject({ updates: 12 });
    } finally {
      tf.dispose([...trained!.values(), ...Object.values(backup.weights), ...Object.values(backup.pluginTensors).flatMap((m) => Object.values(m)), ...backup.optimizerWeights.map((w) => w.tensor)]);
      tf.dispose([data.x, data.y]);
      trainer.dispose();
    }
  });

  it('validates its options', () => {
    expect(() => backupAndRestore({ dir: '' })).toThrow(/dir is required/);
    expect(() => backupAndRestore({ dir: 'x', everySteps: 0 })).toThrow(/everySteps must be an integer/);
  });
});
