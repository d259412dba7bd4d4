// Runs a planned sweep: trials as `fitstream resume <trial-dir>` child processes, up to `parallel` at once, each in its
// own run directory under the sweep's out. Epoch ends are read from each trial's events.jsonl as they are written and
// the pruner decides there; a pruned trial is stopped with SIGINT (it saves its checkpoint). Hyperband pauses the
// trials of a bracket at each rung the same way and continues the best 1/η from their checkpoints with the same
// command — `resume` continues at the exact batch, so a promoted trial trains exactly as an uninterrupted one, which a
// retrain with more epochs would not (its learning-rate schedule and early stopping would see another run).
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@fitstream/core';
import { lockRunDirectory } from '../run/run-lock.js';
import { EXIT } from '../exit.js';
import { formatDuration, formatNumber } from '../run/format.js';
import { medianPrune, successiveHalving, type Curve } from './pruners.js';
import { continueState, initialState, readState, statePath, StateWriter, type EpochRecord, type SweepState, type TrialRecord } from './state.js';
import { EpochTail, pidPath, startTrial, type TrialExit, type TrialHandle } from './trial-process.js';
import type { SweepPlan } from './sweep-file.js';
import { sweepSummary, writeSweepReport, type SweepSummary } from './report.js';
import { alive } from '../run/run-lock.js';

/** Options of {@link runSweep}. */
export interface SweepRunOptions {
  /** Where progress lines go (stdout, or stderr with --json). */
  readonly log: (line: string) => void;
  /** Stop on SIGINT/SIGTERM (the CLI): every trial saves its checkpoint, the state is written, exit code 130/143. */
  readonly handleSignals?: boolean;
  /** The `fitstream` bin the trials run (default: this package's). */
  readonly bin?: string;
  /** How often each trial's events.jsonl is read (ms, default 100). */
  readonly pollMs?: number;
}

/** How a sweep ended. */
export interface SweepOutcome {
  readonly code: number;
  readonly summary: SweepSummary;
}

const DEFAULT_BIN = fileURLToPath(new URL('../../bin/fitstream.js', import.meta.url));

interface Active {
  readonly handle: TrialHandle;
  /** The rung the process pauses itself at (`--pause-after`), for a Hyperband trial short of maxEpochs. */
  readonly pauseAfter: number | undefined;
  intent?: 'prune' | 'pause' | 'interrupt';
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A value for a log line: numbers at four significant digits. */
export const showValue = (v: unknown): string => (typeof v === 'number' ? String(Number(v.toPrecision(4))) : typeof v === 'string' ? v : JSON.stringify(v));

const showParams = (t: TrialRecord): string =>
  Object.entries(t.params)
    .map(([k, v]) => `${k}=${showValue(v)}`)
    .join(' ');


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether process `pid` runs `fitstream resume <dir>`: read from /proc/<pid>/cmdline; `undefined` where there is no
 * /proc (the caller then trusts only the run's lock, as run-lock does).
 */
async function runsIn(pid: number, dir: string): Promise<boolean | undefined> {
  if (!alive(pid)) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' && process.platform === 'linux' ? '' : undefined));
  if (cmdline === undefined) return undefined;
  const args = cmdline.split('\0');
  return args.includes('resume') && args.includes(dir);
}

/** The holder of a run's `.lock`: its pid and host, `'torn'` while it is created but not written, `undefined` when none. */
async function lockHolder(dir: string): Promise<{ pid: number; hostname: string } | 'torn' | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, '.lock'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const holder = JSON.parse(text) as { pid?: unknown; hostname?: unknown };
    return typeof holder.pid === 'number' && typeof holder.hostname === 'string' ? { pid: holder.pid, hostname: holder.hostname } : 'torn';
  } catch {
    return 'torn';
  }
}

/**
 * Runs (or continues) a sweep and writes `<out>/sweep.json` after every change and `<out>/sweep.html` at the end.
 * Resolves with exit code 0 when every trial has ended and one completed, 1 when none completed, 130/143 when
 * stopped by SIGINT/SIGTERM (the state is resumable: `fitstream sweep <file>` continues it).
 *
 * @example
 * ```ts
 * const outcome = await runSweep(await planSweep(await readSweepFile('sweep.yaml')), { log: console.log, handleSignals: true });
 * ```
 */
export async function runSweep(plan: SweepPlan, options: SweepRunOptions): Promise<SweepOutcome> {
  const out = resolve(plan.spec.out);
  await mkdir(out, { recursive: true });
  // One sweep process per out: two would start the same trials twice.
  const unlock = await lockRunDirectory(out, `sweep ${plan.spec.file}`);
  try {
    const saved = await readState(out);
    const state = saved ? continueState(saved, plan, out) : initialState(plan);
    return await new SweepRunner(plan, state, out, options, saved !== undefined).run();
  } finally {
    await unlock();
  }
}

class SweepRunner {
  private readonly writer: StateWriter;
  private readonly active = new Map<number, Active>();
  private readonly queue: TrialRecord[] = [];
  private stopping: NodeJS.Signals | undefined;
  private wake: () => void = () => undefined;
  private saveError: unknown;
  private readonly bin: string;
  private readonly maxEpochs: number | undefined;

  constructor(
    private readonly plan: SweepPlan,
    private readonly state: SweepState,
    private readonly out: string,
    private readonly options: SweepRunOptions,
    private readonly resumed: boolean,
  ) {
    this.writer = new StateWriter(out, state);
    this.bin = options.bin ?? DEFAULT_BIN;
    this.maxEpochs = plan.spec.pruner.type === 'hyperband' ? plan.spec.pruner.maxEpochs : undefined;
  }

  private save(): void {
    this.writer.save().catch((error: unknown) => {
      this.saveError ??= error;
    });
  }

  private dir(t: TrialRecord): string {
    return join(this.out, t.name);
  }

  async run(): Promise<SweepOutcome> {
    const spec = this.plan.spec;
    const log = this.options.log;
    const pruner = spec.pruner.type === 'none' ? 'no pruner' : spec.pruner.type === 'median' ? 'median pruner' : `Hyperband (η = ${spec.pruner.reductionFactor}, ${spec.pruner.minEpochs}–${spec.pruner.maxEpochs} epochs)`;
    log(
      `sweep ${spec.name}: ${this.state.trials.length} trials of ${spec.base} (${spec.sampler}${spec.sampler === 'random' ? `, seed ${spec.seed}` : ''}), ${pruner}, ` +
        `${this.state.objective.mode === 'min' ? 'minimising' : 'maximising'} ${this.state.objective.metric}, ${spec.parallel} in parallel → ${this.out}`,
    );
    for (const note of this.plan.notes) log(`sweep ${spec.name}: ${note}`);
    if (this.resumed) await this.reconcile();
    await this.writer.save();

    const onSignal = (signal: NodeJS.Signals) => {
      if (this.stopping) {
        // A second Ctrl-C: no more waiting for checkpoints.
        for (const a of this.active.values()) a.handle.kill();
        return;
      }
      this.stopping = signal;
      log(`sweep ${spec.name}: ${signal} — stopping ${this.active.size} running trial${this.active.size === 1 ? '' : 's'} (each saves its checkpoint; Ctrl-C again kills them)`);
      for (const a of this.active.values()) {
        a.intent = 'interrupt';
        a.handle.stop();
      }
      this.wake();
    };
    if (this.options.handleSignals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      this.enqueue();
      for (;;) {
        const woken = new Promise<void>((r) => (this.wake = r));
        if (!this.stopping) {
          if (this.queue.length === 0 && this.active.size === 0 && this.advance()) continue;
          while (this.queue.length > 0 && this.active.size < spec.parallel && !this.stopping) await this.launch(this.queue.shift()!);
        }
        if (this.active.size === 0 && (this.stopping || this.queue.length === 0)) break;
        await woken;
      }
    } finally {
      if (this.options.handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }

    const unfinished = this.state.trials.filter((t) => ['pending', 'running', 'paused', 'interrupted'].includes(t.status));
    this.state.status = this.stopping || unfinished.length > 0 ? 'interrupted' : 'finished';
    await this.writer.save();
    if (this.saveError) throw this.saveError instanceof Error ? this.saveError : new Error(`cannot write ${statePath(this.out)}`);
    const report = await writeSweepReport(this.state, this.out);
    const summary = sweepSummary(this.state, this.out, report);
    for (const line of summaryLines(summary)) log(line);
    if (this.stopping || unfinished.length > 0) {
      log(`sweep ${spec.name}: ${unfinished.length} trials left; continue with: fitstream sweep ${spec.file}`);
      return { code: this.stopping === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted, summary };
    }
    if (!summary.best) {
      const failure = this.state.trials.find((t) => t.error)?.error;
      throw new Error(`sweep ${spec.name}: no trial completed${failure ? ` (first failure: ${failure})` : ''}; see the trials' train.log under ${this.out}`);
    }
    return { code: EXIT.ok, summary };
  }

  /**
   * After a restart: trials that were running when the sweep stopped continue from their checkpoints; one that
   * finished meanwhile (its model written, its backup gone) is completed; a trial process left behind by a killed
   * sweep is stopped first (SIGINT, then SIGKILL), so that two processes never train in one directory.
   */
  private async reconcile(): Promise<void> {
    for (const t of this.state.trials) {
      if (!(await exists(join(this.dir(t), 'config.json')))) continue;
      await this.stopLeftover(t);
      const { epochs } = await new EpochTail(join(this.dir(t), 'events.jsonl')).read();
      this.mergeEpochs(t, epochs);
      if (t.status === 'completed' || t.status === 'pruned') await this.ensureReport(t);
      if (t.status !== 'running' && t.status !== 'interrupted' && t.status !== 'pending') continue;
      if ((await exists(join(this.dir(t), 'model'))) && (await exists(join(this.dir(t), 'evaluation.json'))) && !(await exists(join(this.dir(t), 'backup', 'latest.json')))) {
        t.status = 'completed';
        t.endedAt ??= new Date().toISOString();
        continue;
      }
      if (t.status === 'running') t.status = 'interrupted';
    }
  }

  /**
   * Stops a trial process a killed sweep left running in the trial's directory: the one it recorded in `.sweep-pid`
   * (checked against /proc where there is one, so a reused pid is never signalled) and the holder of the run's
   * `.lock`, once it is written (a lock just created by a starting process is given a moment).
   */
  private async stopLeftover(t: TrialRecord): Promise<void> {
    const dir = this.dir(t);
    const pids = new Set<number>();
    const recorded = Number((await readFile(pidPath(dir), 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(recorded) && recorded > 0 && (await runsIn(recorded, dir)) === true) pids.add(recorded);
    // A lock being written is read again; one left torn by a kill is stale after 5 s, when `resume` takes it over.
    let holder = await lockHolder(dir);
    for (let i = 0; holder === 'torn' && i < 60 && Date.now() - ((await stat(join(dir, '.lock')).catch(() => undefined))?.mtimeMs ?? 0) < 5500; i++) {
      await sleep(100);
      holder = await lockHolder(dir);
    }
    if (typeof holder === 'object' && holder.hostname === hostname() && (await runsIn(holder.pid, dir)) !== false) pids.add(holder.pid);
    pids.delete(process.pid);
    for (const pid of pids) {
      if (!alive(pid)) continue;
      this.options.log(`${t.name}: process ${pid} left by a previous sweep still trains here; stopping it (SIGINT)`);
      process.kill(pid, 'SIGINT');
      const deadline = Date.now() + this.plan.spec.stopTimeoutMs;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
    }
  }

  /** Queues the trials that can run now: all unfinished ones, or (Hyperband) those below their bracket's rung. */
  private enqueue(): void {
    for (const t of this.state.trials) {
      if (t.status !== 'pending' && t.status !== 'interrupted') continue;
      if (this.state.brackets) {
        const b = this.state.brackets.find((x) => x.members.includes(t.id))!;
        t.targetEpochs = b.rungs[b.rung]!;
        if (this.reached(t) >= t.targetEpochs && t.targetEpochs < this.maxEpochs!) {
          t.status = 'paused';
          continue;
        }
      }
      if (!this.queue.includes(t)) this.queue.push(t);
    }
  }

  /** How many epochs a trial has trained (its last epoch's number + 1). */
  private reached(t: TrialRecord): number {
    return t.epochs.reduce((m, e) => Math.max(m, e.epoch + 1), 0);
  }

  /**
   * Hyperband: decides every bracket whose trials have all reached its rung (paused there, or ended): the best 1/η
   * continue to the next rung, the others are pruned. Returns whether trials were queued.
   */
  private advance(): boolean {
    if (!this.state.brackets) return false;
    const { metric } = this.state.objective;
    let queued = false;
    for (const b of this.state.brackets) {
      const members = b.members.map((id) => this.state.trials[id]!);
      if (b.rung >= b.rungs.length - 1) continue;
      if (members.some((t) => ['pending', 'running', 'interrupted'].includes(t.status))) continue;
      const rung = b.rungs[b.rung]!;
      const contenders = members.filter((t) => t.status === 'paused' || (t.status === 'completed' && this.reached(t) >= rung));
      const entries = contenders.map((t) => ({ id: t.id, value: t.epochs.find((e) => e.epoch === rung - 1)?.metrics[metric] ?? Number.NaN }));
      const { promoted, pruned } = successiveHalving(entries, this.plan.spec.pruner.type === 'hyperband' ? this.plan.spec.pruner.reductionFactor : 3, this.plan.direction);
      const at = new Date().toISOString();
      const cut = entries.find((e) => e.id === promoted[promoted.length - 1])?.value;
      for (const id of pruned) {
        const t = this.state.trials[id]!;
        if (t.status !== 'paused') continue;
        const value = entries.find((e) => e.id === id)!.value;
        t.status = 'pruned';
        t.decisions.push({ epoch: rung - 1, action: 'pruned', reason: `rung ${b.rung + 1} of bracket ${b.id}: ${metric} ${formatNumber(value)} is not in the best ${promoted.length} of ${entries.length} (cut ${formatNumber(cut ?? Number.NaN)})`, at });
        this.options.log(`${t.name} pruned at rung ${rung} epochs (bracket ${b.id}): ${metric} ${formatNumber(value)}, not in the best ${promoted.length} of ${entries.length}`);
      }
      b.rung += 1;
      for (const id of promoted) {
        const t = this.state.trials[id]!;
        if (t.status !== 'paused') continue;
        t.status = 'pending';
        t.targetEpochs = b.rungs[b.rung]!;
        t.decisions.push({ epoch: rung - 1, action: 'promoted', reason: `rung ${b.rung} of bracket ${b.id}: in the best ${promoted.length} of ${entries.length}; continues to ${t.targetEpochs} epochs`, at });
        this.options.log(`${t.name} promoted at ${rung} epochs (bracket ${b.id}) → ${t.targetEpochs} epochs`);
        this.queue.push(t);
        queued = true;
      }
    }
    this.save();
    return queued;
  }

  private async launch(t: TrialRecord): Promise<void> {
    const dir = this.dir(t);
    // A trial continued after a restart may already be past its pruning point (its process went on after the sweep
    // was killed): it is pruned on the epochs it has, without a process.
    if (this.plan.spec.pruner.type === 'median' && t.epochs.length > 0) {
      const completed = this.state.trials.filter((c) => c.status === 'completed').map((c) => this.curve(c));
      const decision = medianPrune(this.curve(t), completed, this.plan.spec.pruner, this.plan.direction);
      if (decision.prune) {
        t.status = 'pruned';
        t.endedAt = new Date().toISOString();
        t.decisions.push({ epoch: this.reached(t) - 1, action: 'pruned', reason: decision.reason, at: t.endedAt });
        this.options.log(`${t.name} pruned after ${this.reached(t)} epochs: ${decision.reason}`);
        await this.ensureReport(t);
        this.save();
        return;
      }
    }
    await mkdir(dir, { recursive: true });
    // Atomically, and again when a kill tore the previous write: `resume` reads the trial's configuration from it.
    const configText = `${JSON.stringify(t.config, null, 2)}\n`;
    if ((await readFile(join(dir, 'config.json'), 'utf8').catch(() => '')) !== configText) await writeFileAtomic(join(dir, 'config.json'), configText);
    // A Ctrl-C while the directory was being prepared: the trial stays as it was, for the next run of the sweep.
    if (this.stopping) return;
    const first = t.runs === 0;
    t.status = 'running';
    t.runs += 1;
    t.startedAt ??= new Date().toISOString();
    // A Hyperband trial short of its bracket's last rung stops itself there: a SIGINT sent when the controller sees the
    // rung's epoch reaches a fast trial too late (it had trained on).
    const pauseAfter = this.maxEpochs !== undefined && t.targetEpochs !== undefined && t.targetEpochs < this.maxEpochs ? t.targetEpochs : undefined;
    const handle = startTrial({
      bin: this.bin,
      ...(pauseAfter === undefined ? {} : { pauseAfter }),
      runDir: dir,
      timeoutMs: this.plan.spec.trialTimeoutMs,
      stopTimeoutMs: this.plan.spec.stopTimeoutMs,
      ...(this.options.pollMs !== undefined ? { pollMs: this.options.pollMs } : {}),
      header: `sweep ${this.plan.spec.name}, ${t.name}, run ${t.runs}: fitstream resume ${dir} --json`,
      onEpochs: (epochs) => this.onEpochs(t, epochs),
    });
    const active: Active = { handle, pauseAfter };
    this.active.set(t.id, active);
    this.options.log(`${t.name} ${first ? 'started' : 'continues'}${t.targetEpochs !== undefined ? ` (to ${t.targetEpochs} epochs)` : ''}: ${showParams(t)}`);
    this.save();
    void handle.done.then(async (exit) => {
      try {
        this.onExit(t, active, exit);
        if (t.status === 'completed' || t.status === 'pruned') await this.ensureReport(t);
      } finally {
        this.active.delete(t.id);
        this.save();
        this.wake();
      }
    });
  }

  /** Writes a trial's report.html from its events.jsonl when its process ended without one (killed before it wrote it). */
  private async ensureReport(t: TrialRecord): Promise<void> {
    const dir = this.dir(t);
    if ((await exists(join(dir, 'report.html'))) || !(await exists(join(dir, 'events.jsonl')))) return;
    const { writeRunReport } = await import('../run/report.js');
    await writeRunReport(dir).catch((error: unknown) => this.options.log(`${t.name}: cannot write its report: ${(error as Error).message}`));
  }

  private mergeEpochs(t: TrialRecord, epochs: readonly EpochRecord[]): void {
    // A resumed process writes again the epochs it repeats: the newest record of an epoch wins.
    const byEpoch = new Map(t.epochs.map((e) => [e.epoch, e]));
    for (const e of epochs) byEpoch.set(e.epoch, e);
    t.epochs = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  }

  /** The objective per step (epoch index from 0), Optuna's intermediate values. */
  private curve(t: TrialRecord): Curve {
    const metric = this.state.objective.metric;
    return new Map(t.epochs.flatMap((e) => (typeof e.metrics[metric] === 'number' ? [[e.epoch, e.metrics[metric]] as const] : [])));
  }

  private onEpochs(t: TrialRecord, epochs: readonly EpochRecord[]): void {
    this.mergeEpochs(t, epochs);
    this.save();
    const active = this.active.get(t.id);
    // A process that has ended is not pruned: it finished (or failed) before the decision could reach it.
    if (!active || active.intent || active.handle.exited || this.stopping) return;
    const pruner = this.plan.spec.pruner;
    const last = this.reached(t);
    const at = new Date().toISOString();
    if (pruner.type === 'median') {
      const completed = this.state.trials.filter((c) => c.status === 'completed').map((c) => this.curve(c));
      const decision = medianPrune(this.curve(t), completed, pruner, this.plan.direction);
      if (decision.prune) {
        active.intent = 'prune';
        t.decisions.push({ epoch: last - 1, action: 'pruned', reason: decision.reason, at });
        this.options.log(`${t.name} pruned after ${last} epochs: ${decision.reason}`);
        active.handle.stop();
      }
    } else if (pruner.type === 'hyperband' && t.targetEpochs !== undefined && t.targetEpochs < pruner.maxEpochs && last >= t.targetEpochs) {
      this.pause(t, active, t.targetEpochs, at);
      // A process started with --pause-after stops itself at the rung (and a SIGINT now could land in its last backup).
      if (active.pauseAfter === undefined) active.handle.stop();
    }
  }

  private pause(t: TrialRecord, active: Active, rung: number, at: string): void {
    active.intent = 'pause';
    t.decisions.push({ epoch: rung - 1, action: 'paused', reason: `reached its rung (${rung} epochs); waits for the bracket's other trials`, at });
  }

  private onExit(t: TrialRecord, active: Active, exit: TrialExit): void {
    t.durationMs += exit.durationMs;
    t.exitCode = exit.code;
    const stopped = exit.code === EXIT.interrupted || exit.code === EXIT.terminated || exit.signal === 'SIGINT' || exit.signal === 'SIGTERM' || exit.killedAfterStop;
    const best = this.bestOf(t);
    const summary = best ? `best ${this.state.objective.metric} ${formatNumber(best.value)} (epoch ${best.epoch})` : `no ${this.state.objective.metric} logged`;
    const at = new Date().toISOString();
    // Paused at its rung by itself before the controller had read the rung's epoch.
    if (stopped && active.intent === undefined && active.pauseAfter !== undefined && this.reached(t) >= active.pauseAfter) this.pause(t, active, active.pauseAfter, at);
    if (exit.timedOut) {
      t.status = 'failed';
      t.error = `no progress for ${formatDuration(this.plan.spec.trialTimeoutMs)} (trialTimeoutMs): killed`;
      t.decisions.push({ epoch: this.reached(t) - 1, action: 'killed', reason: t.error, at });
    } else if (exit.code === EXIT.ok) {
      t.status = active.intent === 'prune' ? 'pruned' : 'completed';
      delete t.error;
    } else if (stopped) {
      t.status = active.intent === 'prune' ? 'pruned' : active.intent === 'pause' ? 'paused' : 'interrupted';
      if (exit.killedAfterStop) t.decisions.push({ epoch: this.reached(t) - 1, action: 'killed', reason: `did not stop within ${formatDuration(this.plan.spec.stopTimeoutMs)} of its SIGINT (stopTimeoutMs)`, at });
    } else {
      t.status = 'failed';
      const lines = exit.stderrTail.split('\n').filter((l) => l.trim() !== '');
      t.error = exit.spawnError ?? lines.filter((l) => l.startsWith('fitstream:')).pop() ?? lines.pop() ?? `exit code ${String(exit.code ?? exit.signal)}`;
    }
    if (t.status !== 'paused' && t.status !== 'interrupted') t.endedAt = at;
    const took = `${formatDuration(t.durationMs)}`;
    if (t.status === 'completed') this.options.log(`${t.name} completed in ${took}: ${summary}`);
    else if (t.status === 'failed') this.options.log(`${t.name} failed after ${took}: ${t.error ?? ''} (see ${join(this.dir(t), 'train.log')})`);
    else if (t.status === 'paused') this.options.log(`${t.name} paused at ${this.reached(t)} epochs (rung ${t.targetEpochs ?? '?'}): ${summary}`);
    else if (t.status === 'interrupted') this.options.log(`${t.name} interrupted after ${this.reached(t)} epochs; its checkpoint is in ${join(this.dir(t), 'backup')}`);
  }

  private bestOf(t: TrialRecord): { value: number; epoch: number } | undefined {
    const metric = this.state.objective.metric;
    let best: { value: number; epoch: number } | undefined;
    for (const e of t.epochs) {
      const v = e.metrics[metric];
      if (typeof v !== 'number' || Number.isNaN(v)) continue;
      if (!best || (this.plan.direction === 'min' ? v < best.value : v > best.value)) best = { value: v, epoch: e.epoch };
    }
    return best;
  }
}

/** The end-of-sweep lines: the ranking and the best trial. */
function summaryLines(summary: SweepSummary): string[] {
  const lines = [`sweep ${summary.name}: ${Object.entries(summary.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')}`];
  for (const row of summary.trials.slice(0, 10)) {
    lines.push(
      `  ${row.trial === summary.best?.trial ? '*' : ' '} ${row.trial}  ${row.status.padEnd(11)} ${summary.objective.metric} ${row.best === undefined ? '—' : formatNumber(row.best)}  ${row.epochs} epochs  ${Object.entries(row.params)
        .map(([k, v]) => `${k}=${showValue(v)}`)
        .join(' ')}`,
    );
  }
  if (summary.trials.length > 10) lines.push(`  … ${summary.trials.length - 10} more in ${summary.report}`);
  if (summary.best) lines.push(`best: ${summary.best.trial} with ${summary.objective.metric} ${formatNumber(summary.best.value)} (epoch ${summary.best.epoch}) — ${summary.best.runDir}`);
  lines.push(`report: ${summary.report}; state: ${summary.state}`);
  return lines;
}

export { statePath };
