import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './args.js';
import { formatTable, median, rowCollector } from './rows.js';

const benchRoot = fileURLToPath(new URL('..', import.meta.url));
const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');

/** Runs the CLI entry as `npm run bench` does (tsx, source condition), capturing stdout and stderr apart. */
function runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsxCli, '--conditions=@fitstream/source', 'src/cli.ts', ...args],
      { cwd: benchRoot, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const TRAINER_ROWS = [
  'trainer_steps_per_s',
  'model_fit_steps_per_s',
  'bare_loop_steps_per_s',
  'trainer_vs_model_fit',
  'trainer_vs_bare_loop',
  'tensors_leaked_per_epoch',
];

describe('bench CLI', () => {
  // The trainer suite only: the wasm-kernels suite has no quick mode (about a minute) and checks its own rows.
  it('prints exactly one JSON array of { name, value, unit } on stdout with --quick --json', async () => {
    const { code, stdout, stderr } = await runCli(['--suite', 'trainer', '--quick', '--json']);
    expect(code, stderr).toBe(0);

    const rows: unknown = JSON.parse(stdout); // throws if anything else shares stdout
    expect(Array.isArray(rows)).toBe(true);
    for (const row of rows as Record<string, unknown>[]) {
      expect(Object.keys(row).sort()).toEqual(['name', 'unit', 'value']);
      expect(typeof row['name']).toBe('string');
      expect(typeof row['unit']).toBe('string');
      expect(Number.isFinite(row['value']), `${String(row['name'])} = ${String(row['value'])}`).toBe(true);
    }
    const byName = new Map((rows as { name: string; value: number; unit: string }[]).map((r) => [r.name, r]));
    for (const name of TRAINER_ROWS) expect(byName.has(name), `row ${name}`).toBe(true);
    for (const name of ['trainer_steps_per_s', 'model_fit_steps_per_s', 'bare_loop_steps_per_s']) {
      expect(byName.get(name)!.unit).toBe('steps/s');
      expect(byName.get(name)!.value).toBeGreaterThan(0);
    }
    for (const name of ['trainer_vs_model_fit', 'trainer_vs_bare_loop']) {
      expect(byName.get(name)!.unit).toBe('ratio');
      expect(byName.get(name)!.value).toBeGreaterThan(0);
    }
    expect(byName.get('tensors_leaked_per_epoch')!.value).toBe(0);

    expect(stderr).toMatch(/trainer suite: backend wasm/); // progress goes to stderr
  }, 60_000);

  it('exits 2 with the usage on stderr, and nothing on stdout, for an unknown suite', async () => {
    const { code, stdout, stderr } = await runCli(['--suite', 'nope', '--json']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/--suite must be trainer, wasm-kernels, backend, distributed, native or all/);
  }, 30_000);
});

describe('parseBenchArgs', () => {
  it('defaults to every suite on wasm, as a table', () => {
    expect(parseBenchArgs([])).toMatchObject({ json: false, quick: false, backend: 'wasm', suites: ['trainer', 'wasm-kernels', 'backend', 'distributed', 'native'], fitstreamKernels: true });
  });

  it('selects one suite, the backend and the round count', () => {
    expect(parseBenchArgs(['--suite', 'trainer', '--backend', 'cpu', '--rounds', '3', '--json'])).toMatchObject({
      json: true,
      suites: ['trainer'],
      backend: 'cpu',
      rounds: 3,
    });
  });

  it('rejects unknown options and bad values with a message naming them', () => {
    expect(() => parseBenchArgs(['--fast'])).toThrow(/fast/);
    expect(() => parseBenchArgs(['--backend', 'webgl'])).toThrow(/--backend must be wasm or cpu/);
    expect(() => parseBenchArgs(['--rounds', '0'])).toThrow(/--rounds must be a positive integer/);
  });
});

describe('rows', () => {
  it('median takes the middle value, or the mean of the two middle values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('formats a table with the suite, its notes and aligned rows', () => {
    const table = formatTable([{ suite: 'trainer', notes: ['backend wasm'], rows: [{ name: 'x_vs_y', value: 1.234, unit: 'ratio' }], remarks: { x_vs_y: 'ok' } }]);
    expect(table).toContain('== trainer ==');
    expect(table).toContain('backend wasm');
    expect(table).toMatch(/x_vs_y\s+1\.234\s+ratio\s+ok/);
  });

  it("a collector's result is the suite's name, its rows and remarks as collected, and the notes", () => {
    const out = rowCollector();
    out.add('a_steps_per_s', 12.345678, 'steps/s');
    out.target('a_vs_b', 0.4, 0.5);
    expect(out.result('demo', ['note'])).toEqual({
      suite: 'demo',
      rows: [
        { name: 'a_steps_per_s', value: 12.35, unit: 'steps/s' },
        { name: 'a_vs_b', value: 0.4, unit: 'ratio' },
      ],
      notes: ['note'],
      remarks: { a_vs_b: 'target ≥ 0.5: MISSED' },
    });
  });
});
