// Issue 20: `distributed: { replicas: 2, backend: threads }` in a fit configuration makes `fitstream fit` launch two
// data-parallel replicas (worker threads of the CLI process, @fitstream/distributed's launch + dataParallel); rank 0
// alone writes the run directory, which looks like a single-replica run's; a run killed with SIGKILL resumes from rank
// 0's backup to the uninterrupted run's numbers. The real bin, on the cpu backend.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '@fitstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox, parseSummary } from '../test-support/cli.js';

const sandbox = new CliSandbox();

const rows = (n: number, seed: number) => {
  const random = Random.fromSeed(seed);
  return Array.from({ length: n }, (_, i) => `${(2 * (i % 2) + 0.7 * random.normal()).toFixed(3)},${(random.normal() - (i % 2)).toFixed(3)},${i % 2 ? 'yes' : 'no'}`);
};

beforeAll(async () => {
  await sandbox.create();
  await writeFile(join(sandbox.dir, 'large.csv'), ['a,b,label', ...rows(640, 4)].join('\n') + '\n');
  const model = { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { name: 'm', layers: [{ class_name: 'Dense', config: { name: 'h', units: 8, activation: 'tanh', batch_input_shape: [null, 2] } }, { class_name: 'Dense', config: { name: 'out', units: 2, activation: 'softmax' } }] } } };
  await writeFile(join(sandbox.dir, 'model.json'), JSON.stringify(model));
  const config = (data: string, epochs: number, batch: number, lr: number, distributed: string) =>
    `model: model.json\ndata: { path: ${data}, columns: { target: label } }\nepochs: ${epochs}\nbatchSize: ${batch}\nlr: ${lr}\nbackend: cpu\ndistributed: ${distributed}\n`;
  // Backups every 10 steps (of 32 an epoch): a kill comes mid-epoch, and the resumed replicas continue at the exact batch.
  await writeFile(
    join(sandbox.dir, 'two.yaml'),
    `${config('large.csv', 3, 8, 0.02, '{ replicas: 2, backend: threads, lr: { scaling: linear, warmupEpochs: 1 } }')}callbacks: [{ use: backupAndRestore, with: { everySteps: 10 } }]\n`,
  );
});

afterAll(() => sandbox.remove());

describe('fitstream fit with distributed: { replicas: 2, backend: threads }', () => {
  let reference: ReturnType<typeof parseSummary>;

  it('trains a CSV classifier on two thread replicas into one run directory that rank 0 alone wrote', async () => {
    const run = await sandbox.run('fit', 'two.yaml', '--json', '--out', 'runs');
    const summary = (reference = parseSummary(run));
    expect(summary).toMatchObject({ epochs: 3, reason: 'completed' });
    expect(summary.evaluation['accuracy']).toBeGreaterThanOrEqual(0.9);
    expect(run.stderr).toMatch(/2 threads replicas \(dataParallel; batch 8 per replica, 16 in all\)/);
    expect(run.stderr).toMatch(/linear LR scaling .* = 0\.04; gradual warm-up from 0\.02 over 32 steps/);
    expect(run.stderr).toMatch(/epoch 3: .*\(mean of 2 replicas, 512 samples\)/);

    expect(await readdir(join(sandbox.dir, 'runs'))).toHaveLength(1);
    const files = (await readdir(summary.runDir)).sort();
    expect(files).toEqual(['backup', 'checkpoints', 'config.json', 'data.json', 'environment.json', 'evaluation.json', 'events.jsonl', 'metrics.csv', 'model', 'report.html', 'report.svg', 'tensorboard']);
    // One writer: one fit in the event log, one row per epoch in metrics.csv.
    const events = (await readFile(join(summary.runDir, 'events.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.filter((e) => e.type === 'fit:start')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'epoch:end')).toHaveLength(3);
    expect((await readFile(join(summary.runDir, 'metrics.csv'), 'utf8')).trim().split('\n')).toHaveLength(4);
    const config = JSON.parse(await readFile(join(summary.runDir, 'config.json'), 'utf8')) as { distributed: unknown };
    expect(config.distributed).toEqual({ replicas: 2, backend: 'threads', lr: { scaling: 'linear', warmupEpochs: 1 } });
  }, 60_000);

  it('a run killed with SIGKILL resumes on two replicas from rank 0’s backup and ends as the uninterrupted run', async () => {
    const child = sandbox.start(['fit', 'two.yaml', '--json', '--out', 'killed']);
    const closed = new Promise((resolve) => child.on('close', resolve));
    const parent = join(sandbox.dir, 'killed');
    const deadline = Date.now() + 30_000;
    let runDir: string | undefined;
    for (;;) {
      const found = (await readdir(parent).catch(() => [] as string[]))[0];
      if (found && (await readFile(join(parent, found, 'backup', 'latest.json')).then(() => true, () => false))) {
        runDir = join(parent, found);
        break;
      }
      if (Date.now() > deadline) throw new Error('no backup within 30 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await closed;
    expect(await readdir(runDir)).not.toContain('model');
    const resumed = parseSummary(await sandbox.run('resume', runDir, '--json'));
    expect(resumed).toMatchObject({ epochs: 3, reason: 'completed' });
    expect(resumed.final).toEqual(reference.final);
    expect(resumed.evaluation).toEqual(reference.evaluation);
  }, 90_000);

  it('refuses a bad distributed section with exit code 2, naming the key', async () => {
    const run = await sandbox.run('fit', 'two.yaml', '--set', 'distributed={ replicas: 0, backend: gloo }', '--print-config');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/distributed\.replicas: must be ≥ 1, got 0\./);
    expect(run.stderr).toMatch(/distributed\.backend: "gloo" is not allowed\. Allowed values: "threads", "mpi"\./);
  });
});
