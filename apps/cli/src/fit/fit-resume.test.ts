// A `fitstream fit` run is resumable as a recipe run is: the real bin, stopped by SIGINT after its first backup, and
// `fitstream resume <run-dir>` — which rebuilds the fit recipe from the run's config.json (model file, data file,
// plugin lists) — ends where the uninterrupted run ends.
import { access, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox, parseSummary, type Run } from '../test-support/cli.js';

const sandbox = new CliSandbox();

beforeAll(async () => {
  await sandbox.create();
  const random = Random.fromSeed(3);
  const rows = Array.from({ length: 1600 }, (_, i) => {
    const c = i % 2;
    return `${(2 * c + random.normal()).toFixed(3)};${(random.normal() - c).toFixed(3)};"${c === 0 ? 'no, never' : 'yes'}"`;
  });
  await writeFile(join(sandbox.dir, 'data.csv'), ['x1;x2;answer', ...rows].join('\n') + '\n');
  const model = { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { name: 'm', layers: [{ class_name: 'Dense', config: { name: 'h', units: 8, activation: 'tanh', batch_input_shape: [null, 2] } }, { class_name: 'Dense', config: { name: 'out', units: 2, activation: 'softmax' } }] } } };
  await writeFile(join(sandbox.dir, 'model.json'), JSON.stringify(model));
  await writeFile(
    join(sandbox.dir, 'fitstream.yaml'),
    `model: model.json
data: { path: data.csv, columns: { target: answer } }
epochs: 5
batchSize: 8
lr: 0.01
backend: cpu
callbacks:
  - { use: reduceLROnPlateau, with: { patience: 1, factor: 0.5 } }
regularisers:
  - { use: l2, with: { lambda: 0.0001 } }
`,
  );
});

afterAll(() => sandbox.remove());

/** Resolves when `path` exists (polled), failing after `ms`. */
async function appears(path: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await access(path).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fitstream fit, interrupted and resumed', () => {
  it('SIGINT after the first backup exits 130; resume (./fitstream.yaml, plugins and all) ends as the uninterrupted run', async () => {
    const reference = parseSummary(await sandbox.run('fit', '--json', '--out', 'reference'));
    expect(reference).toMatchObject({ epochs: 5, reason: 'completed' });

    const child = sandbox.start(['fit', '--json', '--out', 'runs']);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
    const runs = join(sandbox.dir, 'runs');
    const runDir = await (async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = (await readdir(runs).catch(() => [] as string[])).find((d) => d.startsWith('fit-'));
        if (found) return join(runs, found);
        if (Date.now() > deadline) throw new Error(`no run directory in ${runs} within 30 s; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await appears(join(runDir, 'backup', 'latest.json'), 30_000);
    child.kill('SIGINT');
    const stopped = await closed;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/SIGINT — stopped after step \d+; checkpoint saved to .*Continue with: fitstream resume /);

    const resumed = parseSummary(await sandbox.run('resume', runDir, '--json'));
    expect(resumed).toMatchObject({ runDir: runDir, epochs: 5, reason: 'completed' });
    expect(resumed.final).toEqual(reference.final);
    expect(resumed.evaluation).toEqual(reference.evaluation);

    const predicted = await sandbox.run('predict', runDir, '--data', 'data.csv');
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stdout.split('\n')[0]).toBe('row,answer,"p_no, never",p_yes');
  }, 120_000);
});
