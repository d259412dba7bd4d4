// Every wait of a trial has a bound: a trial silent for trialTimeoutMs is killed and the sweep marks it failed; one
// that ignores its SIGINT is killed after stopTimeoutMs. The trial processes here are real processes standing in for
// `fitstream resume` (a silent one, one that ignores SIGINT), run by the real startTrial and runSweep.
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSweep } from './run-sweep.js';
import { planSweep, readSweepFile } from './sweep-file.js';
import type { SweepState } from './state.js';
import { EpochTail, startTrial } from './trial-process.js';

let dir = '';
const silent = () => join(dir, 'silent.mjs');
const stubborn = () => join(dir, 'stubborn.mjs');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fitstream-trial-'));
  // Says nothing and never ends (bounded by the test: it is killed).
  await writeFile(silent(), 'setInterval(() => {}, 1000);\n');
  // Reports one epoch, then ignores SIGINT.
  await writeFile(
    stubborn(),
    `import { appendFileSync } from 'node:fs';
const dir = process.argv[3];
process.on('SIGINT', () => console.error('ignoring SIGINT'));
appendFileSync(dir + '/events.jsonl', JSON.stringify({ type: 'epoch:end', epoch: 0, metrics: { val_loss: 0.5 } }) + '\\n');
setInterval(() => console.error('still here'), 100);
`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a trial process', () => {
  it('is killed when it reports nothing for timeoutMs', async () => {
    const runDir = await mkdtemp(join(dir, 'run-'));
    const started = Date.now();
    const trial = startTrial({ bin: silent(), runDir, timeoutMs: 500, stopTimeoutMs: 5000, pollMs: 50, header: 'silent', onEpochs: () => undefined });
    const exit = await trial.done;
    expect(exit.timedOut).toBe(true);
    expect(exit.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is killed when it does not stop within stopTimeoutMs of its SIGINT, after its epochs were read', async () => {
    const runDir = await mkdtemp(join(dir, 'run-'));
    const epochs: unknown[] = [];
    const self: { trial?: ReturnType<typeof startTrial> } = {};
    const trial = startTrial({
      bin: stubborn(),
      runDir,
      timeoutMs: 10_000,
      stopTimeoutMs: 400,
      pollMs: 50,
      header: 'stubborn',
      onEpochs: (e) => {
        epochs.push(...e);
        self.trial?.stop();
      },
    });
    self.trial = trial;
    const exit = await trial.done;
    expect(epochs).toEqual([{ epoch: 0, metrics: { val_loss: 0.5 } }]);
    expect(exit.killedAfterStop).toBe(true);
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.stderrTail).toMatch(/ignoring SIGINT/);
    expect(await readFile(join(runDir, 'train.log'), 'utf8')).toMatch(/--- .* stubborn\n[\s\S]*ignoring SIGINT/);
  });
});

describe('EpochTail', () => {
  it('reads complete lines only, each once, and keeps a torn last line for the next read', async () => {
    const path = join(dir, 'events.jsonl');
    const line = (epoch: number) => `${JSON.stringify({ type: 'epoch:end', epoch, metrics: { loss: epoch, note: 'x' } })}\n`;
    await writeFile(path, `{"format":"fitstream-events","version":1}\n${line(0)}{"type":"batch:end"}\n`);
    const tail = new EpochTail(path);
    expect((await tail.read()).epochs).toEqual([{ epoch: 0, metrics: { loss: 0 } }]);
    const next = line(1);
    await appendFile(path, next.slice(0, 20));
    expect(await tail.read()).toEqual({ epochs: [], grew: true });
    await appendFile(path, next.slice(20) + line(2));
    expect((await tail.read()).epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(await tail.read()).toEqual({ epochs: [], grew: false });
  });
});

describe('a sweep whose trials hang', () => {
  it('marks them failed after trialTimeoutMs and ends (exit 1: no trial completed), its state written', async () => {
    const out = join(dir, 'sweep-out');
    const file = join(dir, 'hang.yaml');
    await writeFile(file, `base: iris\nspace: { lr: { log: [0.001, 0.1] } }\ntrials: 2\nparallel: 2\ntrialTimeoutMs: 1000\nout: ${out}\n`);
    const plan = await planSweep(await readSweepFile(file));
    const lines: string[] = [];
    await expect(runSweep(plan, { log: (l) => lines.push(l), bin: silent(), pollMs: 50 })).rejects.toThrow(/no trial completed \(first failure: no progress for 1\.0s \(trialTimeoutMs\): killed\)/);
    const state = JSON.parse(await readFile(join(out, 'sweep.json'), 'utf8')) as SweepState;
    expect(state.trials.map((t) => [t.status, t.decisions.map((d) => d.action)])).toEqual([
      ['failed', ['killed']],
      ['failed', ['killed']],
    ]);
    expect(lines.join('\n')).toMatch(/trial-0000 failed after .*: no progress for 1\.0s/);
    await expect(readFile(join(out, 'sweep.html'), 'utf8')).resolves.toMatch(/Sweep hang: no completed trial yet/);
  }, 30_000);
});
