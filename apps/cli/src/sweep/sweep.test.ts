// `fitstream sweep` end to end: the real bin runs 12 iris trials as child processes on 2 cores with median pruning, is
// stopped with SIGINT and continued; Hyperband pauses a bracket at its rung and continues the best trial from its
// checkpoint; the report opens in headless Chromium; bad sweep files exit with 2 naming the key and the fix.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../program.js';
import { BROWSER_REQUIRED, findChromium, openReport } from '../test-support/browser.js';
import { CliSandbox, type Run } from '../test-support/cli.js';
import type { SweepSummary } from './report.js';
import { planSweep, readSweepFile } from './sweep-file.js';
import type { SweepState } from './state.js';

const sandbox = new CliSandbox();
const chromium = await findChromium();
if (!chromium && !BROWSER_REQUIRED) console.warn('sweep.test.ts: no Chromium found (set CHROMIUM_PATH); skipping the sweep.html browser check (under CI it fails instead).');

const IRIS_SWEEP = `# 12 trials of iris, 6 epochs each, median pruning after 2 completed trials
name: iris-median
base: iris
set:
  epochs: 6
  callbacks.tensorBoard: false
space:
  lr: { log: [0.001, 0.3] }
  batchSize: { choice: [16, 32, 64] }
  model.hiddenUnits: { int: [4, 32] }
sampler: sobol
trials: 12
objective: { metric: val_loss, mode: min }
pruner: { type: median, startupTrials: 2, warmupEpochs: 1 }
parallel: 2
out: runs/sweep-median
`;

const HYPERBAND_SWEEP = `name: iris-hyperband
base: iris
set: { callbacks.tensorBoard: false }
space:
  lr: { log: [0.001, 0.3] }
  model.hiddenUnits: { int: [4, 32] }
sampler: random
seed: 3
pruner: { type: hyperband, minEpochs: 1, maxEpochs: 3 }
trials: 3
parallel: 2
out: runs/sweep-hyperband
`;

const readState = async (out: string): Promise<SweepState> => JSON.parse(await readFile(join(sandbox.dir, out, 'sweep.json'), 'utf8')) as SweepState;

function summaryOf(run: Run): SweepSummary {
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split('\n').filter((l) => l !== '');
  expect(lines, 'stdout holds exactly one JSON line').toHaveLength(1);
  return JSON.parse(lines[0]!) as SweepSummary;
}

/** Epoch rows of a metrics.csv without the duration column (the only one that differs between equal runs). */
async function metricRows(path: string): Promise<string[]> {
  const [header, ...rows] = (await readFile(path, 'utf8')).trim().split('\n');
  const drop = header!.split(',').indexOf('duration_ms');
  return rows.map((r) => r.split(',').filter((_, i) => i !== drop).join(','));
}

beforeAll(async () => {
  await sandbox.create();
  await writeFile(join(sandbox.dir, 'iris.yaml'), IRIS_SWEEP);
  await writeFile(join(sandbox.dir, 'hyperband.yaml'), HYPERBAND_SWEEP);
});
afterAll(() => sandbox.remove());

describe('fitstream sweep: median pruning, kill -9, Ctrl-C and continuing', () => {
  let summary: SweepSummary;
  let elapsedMs = 0;
  let afterKill: SweepState;
  let beforeStop: SweepState;
  let resumedLog = '';

  /** Starts the sweep and, once `ready` holds for its state (bounded: 90 s), sends `signal`; resolves with the exit. */
  async function stopWhen(signal: NodeJS.Signals, ready: (state: SweepState) => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const child = sandbox.start(['sweep', 'iris.yaml', '--json']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const state = await readState('runs/sweep-median').catch(() => undefined);
      if (state && ready(state)) break;
    }
    child.kill(signal);
    return { ...(await exited), stderr };
  }

  const ended = (s: SweepState) => s.trials.filter((t) => t.status === 'completed' || t.status === 'pruned').length;
  const runningWithEpochs = (s: SweepState) => s.trials.some((t) => t.status === 'running' && t.epochs.length > 0);

  beforeAll(async () => {
    const started = Date.now();
    // kill -9 once two trials completed: the trial processes it started are left running on their own.
    const killed = await stopWhen('SIGKILL', (s) => s.trials.filter((t) => t.status === 'completed').length >= 2 && runningWithEpochs(s));
    expect(killed.signal).toBe('SIGKILL');
    afterKill = await readState('runs/sweep-median');
    // Continue, and Ctrl-C once two more trials ended.
    const stopped = await stopWhen('SIGINT', (s) => ended(s) >= ended(afterKill) + 2 && runningWithEpochs(s));
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/SIGINT — stopping \d running trials? \(each saves its checkpoint/);
    expect(stopped.stderr).toMatch(/continue with: fitstream sweep iris\.yaml/);
    resumedLog = stopped.stderr;
    beforeStop = await readState('runs/sweep-median');
    const run = await sandbox.run('sweep', 'iris.yaml', '--json');
    elapsedMs = Date.now() - started;
    summary = summaryOf(run);
  }, 240_000);

  it('survives kill -9: the state file is whole, its finished trials are kept, the trials it left are stopped or finished', () => {
    expect(afterKill.status).toBe('running'); // as it was when killed: written atomically after every change
    for (const t of afterKill.trials.filter((x) => x.status === 'completed' || x.status === 'pruned')) {
      expect(beforeStop.trials[t.id]!.runs, `${t.name} ran again`).toBe(t.runs);
      expect(beforeStop.trials[t.id]!.status).toBe(t.status);
    }
    // A trial the killed sweep left running either finished meanwhile or was stopped (SIGINT) and continued.
    for (const t of afterKill.trials.filter((x) => x.status === 'running')) {
      expect(['completed', 'pruned', 'running', 'interrupted']).toContain(beforeStop.trials[t.id]!.status);
      if (beforeStop.trials[t.id]!.runs > t.runs) expect(resumedLog).toMatch(new RegExp(`${t.name} continues`));
    }
  });

  it('stops every trial with a checkpoint on Ctrl-C and leaves a resumable state', () => {
    expect(beforeStop.status).toBe('interrupted');
    const interrupted = beforeStop.trials.filter((t) => t.status === 'interrupted');
    expect(interrupted.length).toBeGreaterThan(0);
    expect(beforeStop.trials.filter((t) => t.status === 'completed').length).toBeGreaterThanOrEqual(2);
    expect(beforeStop.trials.some((t) => t.status === 'pending')).toBe(true);
  });

  it('continues: finished trials are kept as they were, interrupted ones resume from their checkpoint', async () => {
    const after = await readState('runs/sweep-median');
    expect(after.status).toBe('finished');
    for (const t of beforeStop.trials) {
      const now = after.trials[t.id]!;
      expect(now.params).toEqual(t.params); // the same seed and sampler: the same configurations
      if (t.status === 'completed' || t.status === 'pruned') {
        expect(now.status, t.name).toBe(t.status);
        expect(now.runs, `${t.name} ran again`).toBe(t.runs);
        expect(now.epochs).toEqual(t.epochs);
      }
      if (t.status === 'interrupted') {
        if (now.runs === t.runs) {
          // Without a new process, either of two things: the trial had finished training when the Ctrl-C reached it
          // (its model and evaluation written, its backup gone), which the restart finds and records as completed; or
          // it is pruned on the epochs it had (the last ones ended while the sweep was stopping).
          expect(['completed', 'pruned'], t.name).toContain(now.status);
          if (now.status === 'completed') {
            expect(now.epochs).toHaveLength(6);
            await expect(stat(join(sandbox.dir, 'runs/sweep-median', t.name, 'model')), `${t.name}/model`).resolves.toBeTruthy();
          } else {
            expect(now.decisions.at(-1)?.epoch).toBe(now.epochs.length - 1);
          }
          continue;
        }
        expect(now.runs, t.name).toBe(t.runs + 1);
        // One stopped after an epoch saved its checkpoint there (backups are taken every epoch and on SIGINT).
        const log = await readFile(join(sandbox.dir, 'runs/sweep-median', t.name, 'train.log'), 'utf8');
        if (t.epochs.length > 0) expect(log).toMatch(new RegExp(`resuming .*${t.name} from .*${t.name}/backup`));
      }
    }
  });

  it('runs 12 trials on 2 cores in well under 2 minutes, prunes some, and every trial has its run directory', async () => {
    expect(elapsedMs).toBeLessThan(120_000);
    expect(summary.trials).toHaveLength(12);
    expect(summary.counts.completed + summary.counts.pruned).toBe(12);
    expect(summary.counts.pruned).toBeGreaterThan(0);
    expect(summary.counts.completed).toBeGreaterThanOrEqual(2);
    for (const row of summary.trials) {
      for (const file of ['config.json', 'events.jsonl', 'metrics.csv', 'report.html', 'train.log', 'checkpoints']) {
        await expect(stat(join(row.runDir, file)), `${row.trial}/${file}`).resolves.toBeTruthy();
      }
      expect(row.runDir).toMatch(/runs\/sweep-median\/trial-00\d\d$/);
      if (row.status === 'pruned') expect(row.note).toMatch(/^pruned at epoch \d+: best [\d.e-]+ > median [\d.e-]+ of \d+ completed trials at epoch \d+/);
      if (row.status === 'completed') expect(row.epochs).toBe(6);
    }
  });

  it("ranks by the objective: the best trial's val_loss tops the table and is its run's best epoch", async () => {
    const completed = summary.trials.filter((r) => r.status === 'completed');
    const top = summary.trials[0]!;
    expect(summary.best?.trial).toBe(top.trial);
    expect(top.best).toBe(Math.min(...completed.map((r) => r.best!)));
    const rows = (await readFile(join(top.runDir, 'metrics.csv'), 'utf8')).trim().split('\n');
    const column = rows[0]!.split(',').indexOf('val_loss');
    expect(Math.min(...rows.slice(1).map((r) => Number(r.split(',')[column])))).toBe(summary.best?.value);
    const bests = completed.map((r) => r.best!);
    expect(bests).toEqual([...bests].sort((a, b) => a - b));
  });

  it.skipIf(!chromium && !BROWSER_REQUIRED)('sweep.html opens in headless Chromium without console messages; every chart is drawn with labelled axes', async () => {
    if (!chromium) throw new Error("CI is set but no Chromium was found: .ci/run installs Debian's chromium (or set CHROMIUM_PATH).");
    const page = await openReport(chromium, summary.report);
    expect(page.problems).toEqual([]);
    expect(page.text).toMatch(new RegExp(`Sweep iris-median: best ${summary.best!.trial}`));
    expect(page.text).toMatch(/Trials: 12 \(\d+ completed, \d+ pruned\), ranked by val_loss \(min\)/);
    const titles = page.charts.map((c) => c.title);
    expect(titles).toContain('Hyper-parameters → best val_loss (12 trials with a value)');
    expect(titles).toContain('val_loss per epoch: 12 trials');
    for (const chart of page.charts) {
      expect(chart.drawnPaths, chart.title).toBeGreaterThan(0);
      expect(chart.xLabels.length, chart.title).toBeGreaterThanOrEqual(2);
      expect(chart.yLabels.length, chart.title).toBeGreaterThanOrEqual(2);
      expect(chart.xName, chart.title).not.toBe('');
    }
    const parallel = page.charts.find((c) => c.title.startsWith('Hyper-parameters'))!;
    expect(parallel.drawnPaths).toBe(12);
    expect(parallel.xLabels).toEqual(['lr (log)', 'batchSize', 'model.hiddenUnits', 'val_loss (min)']);
    const html = await readFile(summary.report, 'utf8');
    expect(html).not.toMatch(/<script/);
    expect(html).toMatch(/stroke-dasharray="5 4"><title>trial-\d+ \(pruned\)/); // pruned curves are dashed
    expect(html).toMatch(new RegExp(`<tr class="trial completed best"[^>]*><td>1</td><td><a href="${summary.best!.trial}/report.html">`));
  });
});

describe('fitstream sweep: Hyperband', () => {
  it('pauses a bracket at its rung, continues the best from its checkpoint (as an uninterrupted run) and prunes the rest', async () => {
    const summary = summaryOf(await sandbox.run('sweep', 'hyperband.yaml', '--json'));
    const state = await readState('runs/sweep-hyperband');
    // minEpochs 1, maxEpochs 3, η = 3: bracket 0 starts 3 trials at 1 epoch (bracket 1, two trials at 3 epochs, is
    // left out by trials: 3).
    expect(state.brackets?.map((b) => [b.members, b.rungs])).toEqual([[[0, 1, 2], [1, 3]]]);
    const first = state.trials.slice(0, 3);
    expect(first.filter((t) => t.status === 'pruned')).toHaveLength(2);
    const promoted = first.find((t) => t.status === 'completed')!;
    expect(promoted.decisions.map((d) => d.action)).toEqual(['paused', 'promoted']);
    expect(promoted.runs).toBe(2);
    expect(Math.max(...first.filter((t) => t.status === 'pruned').map((t) => t.epochs.length))).toBeLessThan(3);
    // The promoted trial's value at the rung was the best of its bracket.
    const atRung = (t: (typeof first)[number]) => t.epochs.find((e) => e.epoch === 0)!.metrics['val_loss']!;
    expect(atRung(promoted)).toBe(Math.min(...first.map(atRung)));
    expect(summary.counts).toMatchObject({ completed: 1, pruned: 2 });

    // Continuing from the checkpoint equals training without the pause, epoch by epoch.
    const dir = join(sandbox.dir, 'runs/sweep-hyperband', promoted.name);
    const straight = summaryOfTrain(await sandbox.run('train', join(dir, 'config.json'), '--out', 'runs/straight', '--json'));
    expect(await metricRows(join(dir, 'metrics.csv'))).toEqual(await metricRows(join(straight, 'metrics.csv')));
  }, 120_000);
});

function summaryOfTrain(run: Run): string {
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout.trim()) as { runDir: string }).runDir;
}

describe("the README's example sweep file", () => {
  it('plans 12 Sobol trials of iris (--dry-run)', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n(# sweeps\/iris\.yaml[\s\S]*?)```/.exec(readme)?.[1];
    expect(yaml, 'a ```yaml block starting with # sweeps/iris.yaml').toBeDefined();
    const file = join(sandbox.dir, 'readme-sweep.yaml');
    await writeFile(file, yaml!);
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['sweep', file, '--dry-run', '--json'], { out: (t) => out.push(t), err: (t) => err.push(t) }), err.join('\n')).toBe(0);
    const plan = JSON.parse(out.join('')) as { name: string; out: string; trials: { params: Record<string, unknown> }[] };
    expect(plan).toMatchObject({ name: 'iris-lr', out: 'runs/sweep-iris-lr' });
    expect(plan.trials).toHaveLength(12);
    expect(Object.keys(plan.trials[0]!.params)).toEqual(['lr', 'batchSize', 'model.hiddenUnits']);
  });
});

describe('a fitstream fit config as the base', () => {
  it("keeps the config's own callbacks list and adds the backup every trial needs (init's starter project)", async () => {
    const project = join(sandbox.dir, 'starter');
    expect(await main(['init', project], { out: () => undefined, err: () => undefined })).toBe(0);
    const file = join(project, 'sweep.yaml');
    await writeFile(file, `base: ${join(project, 'fitstream.yaml')}\nspace:\n  lr: { log: [0.001, 0.05] }\nsampler: random\ntrials: 3\n`);
    const plan = await planSweep(await readSweepFile(file));
    expect(plan.recipe).toBe('fit');
    for (const trial of plan.trials) {
      const callbacks = (trial.config as { callbacks?: unknown }).callbacks as { use: string; with?: Record<string, unknown> }[];
      expect(callbacks.map((c) => c.use)).toEqual(['earlyStopping', 'backupAndRestore']);
      expect(callbacks[1]!.with).toEqual({ enabled: true, saveOnInterrupt: true });
    }
  });
});

describe('fitstream sweep: bad sweep files exit with 2, naming the key and the fix', () => {
  const base = 'base: iris\nspace:\n  lr: { log: [0.001, 0.1] }\nsampler: random\ntrials: 4\n';
  it.each([
    ['an unknown key', 'base: iris\nspace: { lr: { log: [0.001, 0.1] } }\ntrails: 4\n', /unknown key "trails"\. Allowed keys: .*Did you mean "trials"\?/],
    ['an empty space', 'base: iris\nspace: {}\ntrials: 4\n', /space: must name at least one config key to search, e\.g\. space: \{ lr: /],
    ['a log range from 0', 'base: iris\nspace: { lr: { log: [0, 0.1] } }\ntrials: 4\n', /space\.lr\.log: a log range needs low > 0 .*Use e\.g\. \[1e-5, 0\.1\], or uniform: \[0, 0\.1\]/],
    ['reversed bounds', 'base: iris\nspace: { lr: { uniform: [0.1, 0.001] } }\ntrials: 4\n', /space\.lr\.uniform: low must be < high, got \[0\.1, 0\.001\]\. Write \[0\.001, 0\.1\]/],
    ['trials < 1', base.replace('trials: 4', 'trials: 0'), /trials: must be ≥ 1, got 0/],
    ['no trials for random sampling', base.replace('trials: 4\n', ''), /trials: missing; random sampling needs a number of trials, e\.g\. trials: 20/],
    ['a key the recipe does not have', 'base: iris\nspace: { model.hidden: { int: [8, 64] } }\ntrials: 4\n', /trial 0 \(model\.hidden=\d+\) is not a valid configuration of base iris:[\s\S]*unknown key "model\.hidden"\. Allowed keys in model: hiddenUnits, activation\. Did you mean "hiddenUnits"\?/],
    ['a value the recipe refuses', 'base: iris\nspace: { optimizer: { choice: [adam, lion] } }\nsampler: grid\n', /trial 1 \(optimizer="lion"\)[\s\S]*optimizer: "lion" is not allowed\. Allowed values: "sgd"/],
    ['an objective the recipe does not log', base + 'objective: { metric: val_acc }\n', /objective\.metric: "val_acc" is not logged by iris\. Allowed values: "loss", "accuracy", "val_loss", "val_accuracy"/],
    ['an unknown pruner', base + 'pruner: medain\n', /pruner\.type: "medain" is not allowed\. Allowed values: "none", "median", "hyperband"\. Did you mean "median"\?/],
    ['a key both set and searched', base + 'set: { lr: 0.01 }\n', /set\.lr and space\.lr: a key is either fixed \(set\) or searched \(space\); remove one/],
    ['an experiment recipe', 'base: sensors\nspace: { lr: { log: [0.001, 0.1] } }\ntrials: 2\n', /base: the sensors recipe is an experiment .*sweeps apply to single-model recipes/],
    ['an unknown recipe', 'base: irs\nspace: { lr: { log: [0.001, 0.1] } }\ntrials: 2\n', /unknown recipe "irs"\. Available recipes: /],
  ])('%s', async (_what, text, message) => {
    const file = join(sandbox.dir, `bad-${Math.abs([...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7))}.yaml`);
    await writeFile(file, text);
    const err: string[] = [];
    const code = await main(['sweep', file], { out: () => undefined, err: (t) => err.push(t) });
    expect(err.join('\n')).toMatch(message);
    expect(code).toBe(2);
  });

  it('a sweep file that is not YAML or JSON, or is missing', async () => {
    const err: string[] = [];
    const io = { out: () => undefined, err: (t: string) => err.push(t) };
    expect(await main(['sweep', join(sandbox.dir, 'sweep.txt')], io)).toBe(2);
    expect(await main(['sweep', join(sandbox.dir, 'missing.yaml')], io)).toBe(2);
    expect(err.join('\n')).toMatch(/must be YAML or JSON \(\.yaml, \.yml, \.json\)[\s\S]*cannot read the config file .*missing\.yaml/);
  });
});
