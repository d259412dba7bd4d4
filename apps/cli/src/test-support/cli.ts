// Runs the real `fitstream` bin in child processes, each test file in its own temporary directory and dataset cache.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/fitstream.js');

/** Whether `fitstream native install` built tfjs-node here (vitest.shared.ts checks, without loading it). */
export const NATIVE_BUILT = process.env['FITSTREAM_NATIVE_BACKEND'] === 'available';

/** What `--backend auto` selects on this machine: the native backend once it is built (CI builds it), else wasm. */
export const AUTO_BACKEND = NATIVE_BUILT ? 'tensorflow' : 'wasm';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Summary {
  runDir: string;
  backend: string;
  epochs: number;
  reason: string;
  final: Record<string, number>;
  best: Record<string, number>;
  evaluation: Record<string, number>;
}

export class CliSandbox {
  dir = '';

  async create(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'fitstream-cli-'));
  }

  async remove(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** Starts the bin without waiting (for signal tests). */
  start(args: readonly string[]): ChildProcess {
    return spawn(process.execPath, [BIN, ...args], {
      cwd: this.dir,
      env: { ...process.env, FITSTREAM_CACHE_DIR: join(this.dir, 'cache'), NODE_OPTIONS: '', CI: '1' },
    });
  }

  run(...args: string[]): Promise<Run> {
    return new Promise((resolvePromise, reject) => {
      const child = this.start(args);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    });
  }
}

export function parseSummary(run: Run): Summary {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split('\n').filter((l) => l !== '');
  expect(lines, 'stdout holds exactly one JSON line').toHaveLength(1);
  return JSON.parse(lines[0]!) as Summary;
}
