import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTO_BACKEND, NATIVE_BUILT } from './test-support/cli.js';

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

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fitstream-cli-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
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
    if (NATIVE_BUILT) {
      expect(byName['tensorflow']).toMatchObject({ installed: true, available: true, fix: null, native: { source: 'python', devices: ['CPU'], builtBy: 'fitstream native install' } });
      expect(byName['tensorflow']!.detail).toMatch(/^native TensorFlow 2\.\d+\.\d+ loads \(pip tensorflow(-cpu)? \(.*python.*\) at .*, built by fitstream native install on \d{4}-\d{2}-\d{2}\); devices: CPU$/);
    } else {
      expect(byName['tensorflow']).toMatchObject({ installed: false, available: false, detail: 'not installed' });
      expect(byName['tensorflow']!.fix).toBe('python3 -m pip install tensorflow-cpu && npx fitstream native install');
    }
    expect(byName['tensorflow-gpu']!.fix).toMatch(/tensorflow\[and-cuda\].*native install --gpu/);
    expect(byName['wasm']).toMatchObject({ available: true, threads: false, fitstreamKernels: true, fix: null });
    expect(byName['wasm']!.detail).toMatch(/fitstream's training kernels installed \(@fitstream\/backend-wasm: \d+ added, \d+ replaced\)$/);
    expect(typeof byName['wasm']!.simd).toBe('boolean');
    expect(byName['cpu']!.available).toBe(true);
    expect(report.auto).toBe(AUTO_BACKEND);
    expect(report.cache.directory).toBe(join(tmp, 'cache'));
  });

  it('explains the same for humans', async () => {
    const run = await fitstream('doctor');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(NATIVE_BUILT ? /✓ tensorflow +@tensorflow\/tfjs-node 4\.22\.0: native TensorFlow .* loads/ : /✗ tensorflow +@tensorflow\/tfjs-node: not installed/);
    expect(run.stdout).toMatch(/✓ wasm .*SIMD (on|off).*threads off/);
    expect(run.stdout).toContain(`--backend auto selects: ${AUTO_BACKEND}`);
  });
});

describe('usage errors exit with code 2 and name what is wrong', () => {
  it.each([
    [['train', 'cifar'], /unknown recipe "cifar"\. Available recipes: iris \(.*\), mnist \(.*\), housing \(.*\)\. Or pass a config file/],
    [['train', 'iris', '--epochs', 'ten'], /option '--epochs <n>' argument 'ten' is invalid\. --epochs must be a whole number ≥ 1/],
    [['train', 'iris', '--batch-size', '0'], /--batch-size must be a whole number ≥ 1/],
    [['train', 'iris', '--lr', '-1'], /--lr must be a number > 0/],
    [['train', 'iris', '--seed', '1.5'], /--seed must be an integer/],
    [['train', 'iris', '--backend', 'gpu'], /'--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, tensorflow-gpu, tensorflow, wasm, cpu/],
    [['train'], /missing required argument 'recipe|config'/],
    [['fly'], /unknown command 'fly'/],
  ])('fitstream %j', async (args, message) => {
    const run = await fitstream(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('a failed command exits with code 1 and one line on stderr; --out naming a file is a usage error (2)', async () => {
    const config = await fitstream('train', 'iris', '--print-config');
    await mkdir(join(tmp, 'no-model'));
    await writeFile(join(tmp, 'no-model', 'config.json'), config.stdout);
    const run = await fitstream('evaluate', 'no-model');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^fitstream: no-model has no trained model/m);
    const out = await fitstream('train', 'iris', '--epochs', '1', '--out', '/dev/null/runs');
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^fitstream: out \(--out or the config's "out"\): \/dev\/null\/runs: \/dev\/null is not a directory; pass a directory/m);
  });
});
