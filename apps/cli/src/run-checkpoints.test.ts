// Issue 17, items 3-4: the CLI's commands read only verified checkpoints and fall back to the previous good one (saying
// so); `resume --from` and `evaluate`/`predict --checkpoint best|last|<path>` choose one; a run directory is locked
// while a process trains in it.
import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliSandbox, parseSummary, type Summary } from './test-support/cli.js';

const sandbox = new CliSandbox();
const children: ChildProcess[] = [];
beforeAll(() => sandbox.create());
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sandbox.remove();
});

// Early stopping off: 12 epochs of 8 steps; a periodic checkpoint every epoch (the last 3 kept) beside the best one.
const ARGS = ['train', 'iris', '--seed', '3', '--epochs', '12', '--callbacks.earlyStopping.enabled', 'false', '--callbacks.modelCheckpoint.everyEpochs', '1', '--callbacks.modelCheckpoint.keepLast', '3', '--callbacks.jsonlLogger.flushAtChars', '256', '--json'];

const flip = async (file: string) => {
  const bytes = await readFile(file);
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  await writeFile(file, bytes);
};

const epochEnds = async (runDir: string) => ((await readFile(join(runDir, 'events.jsonl'), 'utf8').catch(() => '')).match(/"type":"epoch:end"/g) ?? []).length;

/** Starts ARGS, waits for the run directory and `epochs` epoch ends, then sends `signal` (and waits for the exit, except after SIGSTOP). */
async function interruptAfter(out: string, epochs: number, signal: NodeJS.Signals, extra: readonly string[] = []): Promise<{ runDir: string; code: number | null; pid: number }> {
  const child = sandbox.start([...ARGS, ...extra, '--out', out]);
  children.push(child);
  child.stdout!.resume();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  let runDir: string | undefined;
  for (;;) {
    expect(Date.now(), stderr).toBeLessThan(deadline);
    expect(child.exitCode, `the run ended before epoch ${epochs}: ${stderr}`).toBe(null);
    runDir ??= (await readdir(join(sandbox.dir, out)).catch(() => [] as string[])).map((d) => join(sandbox.dir, out, d))[0];
    if (runDir && (await epochEnds(runDir)) >= epochs) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill(signal);
  // SIGSTOP freezes the trainer mid-run: alive, holding its lock.
  return { runDir: runDir!, code: signal === 'SIGSTOP' ? null : await exited, pid: child.pid! };
}

describe('fitstream: verified checkpoints, fallback, --from / --checkpoint, and the run-directory lock', () => {
  let reference: Summary;

  beforeAll(async () => {
    reference = parseSummary(await sandbox.run(...ARGS, '--out', 'reference'));
  }, 60_000);

  it('a finished run: resume refuses and names --from; evaluate and predict choose best, last or a path; a bad choice is a usage error', async () => {
    const runDir = reference.runDir;
    const again = await sandbox.run('resume', runDir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nothing to resume .* the run finished .* pass --from best, --from last or --from <checkpoint>/);

    const best = JSON.parse(await readFile(join(runDir, 'checkpoints', 'best.json'), 'utf8')) as { path: string };
    const latest = JSON.parse(await readFile(join(runDir, 'checkpoints', 'latest.json'), 'utf8')) as { path: string };
    for (const [choice, expected] of [
      ['best', best.path],
      ['last', latest.path],
      [join(runDir, 'checkpoints', best.path), best.path],
      [join('checkpoints', latest.path), latest.path], // relative to the run directory
    ] as const) {
      const run = await sandbox.run('evaluate', runDir, '--checkpoint', choice, '--json');
      expect(run.code, run.stderr).toBe(0);
      expect((JSON.parse(run.stdout) as { model: string }).model).toBe(join(runDir, 'checkpoints', expected));
    }
    await writeFile(join(sandbox.dir, 'rows.csv'), 'sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n');
    const predicted = await sandbox.run('predict', runDir, join(sandbox.dir, 'rows.csv'), '--checkpoint', 'best', '--json');
    expect(predicted.code, predicted.stderr).toBe(0);
    expect((JSON.parse(predicted.stdout) as Array<{ species: string }>).map((r) => r.species)).toEqual(['setosa', 'virginica']);

    const bad = await sandbox.run('evaluate', runDir, '--checkpoint', 'nope');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--checkpoint nope: no checkpoint there .* use best, last, or a path/);
  }, 60_000);

  it('a damaged model/ is never used: evaluate says so and falls back to the newest good checkpoint; resume --from best trains on to the same end', async () => {
    const { runDir } = parseSummary(await sandbox.run(...ARGS, '--out', 'damaged'));
    await flip(join(runDir, 'model', 'weights.bin'));
    const run = await sandbox.run('evaluate', runDir, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(new RegExp(`skipping checkpoint ${join(runDir, 'model')}: .*weights\\.bin does not match its checksum`));
    const latest = JSON.parse(await readFile(join(runDir, 'checkpoints', 'latest.json'), 'utf8')) as { path: string };
    expect((JSON.parse(run.stdout) as { model: string }).model).toBe(join(runDir, 'checkpoints', latest.path));

    const resumed = parseSummary(await sandbox.run('resume', runDir, '--from', 'best', '--json'));
    expect({ ...resumed, runDir: '' }).toEqual({ ...reference, runDir: '' });
  }, 60_000);

  it('SIGINT, then the backup damaged: resume passes it over (and says so) for the newest good checkpoint, and ends as uninterrupted', async () => {
    const { runDir, code } = await interruptAfter('fallback', 7, 'SIGINT');
    expect(code).toBe(130);
    await flip(join(runDir, 'backup', 'backup', 'optimizer.bin'));
    const resumed = await sandbox.run('resume', runDir, '--json');
    expect(resumed.stderr).toMatch(new RegExp(`skipping checkpoint ${join(runDir, 'backup', 'backup')}: .*optimizer\\.bin does not match its checksum`));
    expect(resumed.stderr).toMatch(new RegExp(`resuming ${runDir} from ${join(runDir, 'checkpoints')}/epoch-00\\d\\d-step-\\d+`));
    expect({ ...parseSummary(resumed), runDir: '' }).toEqual({ ...reference, runDir: '' });
  }, 90_000);

  it('a run directory is locked while a process trains in it: a second resume is refused with the holder\'s pid; after a SIGKILL the stale lock is taken over', async () => {
    const { runDir, pid } = await interruptAfter('locked', 2, 'SIGSTOP');
    const refused = await sandbox.run('resume', runDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`is in use: process ${pid} \\(\`fitstream train iris\`, since .*\\) is training in it.*kill -INT ${pid}`));
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.parse(await readFile(join(runDir, '.lock'), 'utf8'))).toMatchObject({ pid }); // left behind by the kill
    const resumed = parseSummary(await sandbox.run('resume', runDir, '--json'));
    expect({ ...resumed, runDir: '' }).toEqual({ ...reference, runDir: '' });
    await expect(stat(join(runDir, '.lock'))).rejects.toThrow(); // released at the end
  }, 90_000);
});
