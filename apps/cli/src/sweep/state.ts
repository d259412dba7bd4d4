// `<out>/sweep.json`: everything a sweep knows — the sampler and its position, each trial's configuration, status,
// metrics per epoch and the pruning decisions — written atomically (a temporary file renamed over it) after every
// change, so a kill at any moment leaves the last complete state, and `fitstream sweep <file>` continues from it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@fitstream/core';
import type { RunConfig } from '../config/schema.js';
import { ConfigError } from '../config/resolve.js';
import type { Bracket } from './pruners.js';
import type { Point } from './samplers.js';
import type { SweepPlan } from './sweep-file.js';

/**
 * Where a trial is: `pending` (not started, or promoted and waiting for a slot), `running`, `paused` (Hyperband: at a
 * rung, its checkpoint saved, waiting for the rung's decision), `completed`, `pruned`, `failed`, or `interrupted` (the
 * sweep was stopped; it continues from its checkpoint next time).
 */
export type TrialStatus = 'pending' | 'running' | 'paused' | 'completed' | 'pruned' | 'failed' | 'interrupted';

/** One epoch of a trial: its number (from 0, as events.jsonl and metrics.csv number them) and its epoch logs. */
export interface EpochRecord {
  readonly epoch: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A pruning or scheduling decision about a trial, with the numbers it was taken on. */
export interface Decision {
  /** The epoch (from 0) after which it was taken. */
  readonly epoch: number;
  readonly action: 'pruned' | 'paused' | 'promoted' | 'killed';
  readonly reason: string;
  readonly at: string;
}

/** A trial as sweep.json records it. */
export interface TrialRecord {
  readonly id: number;
  /** `trial-0007`: also its run directory under the sweep's `out`. */
  readonly name: string;
  readonly params: Point;
  readonly config: RunConfig;
  readonly bracket?: number;
  status: TrialStatus;
  epochs: EpochRecord[];
  decisions: Decision[];
  /** How many times a `fitstream resume` process ran it. */
  runs: number;
  /** Wall time of its processes, summed. */
  durationMs: number;
  startedAt?: string;
  endedAt?: string;
  exitCode?: number | null;
  error?: string;
  /** Hyperband: the epochs the trial trains to before it pauses (its bracket's current rung). */
  targetEpochs?: number;
}

/** A Hyperband bracket instance as sweep.json records it: its rungs, its trials and the rung being run. */
export interface BracketRecord extends Bracket {
  /** The bracket instance (`index` is its place in the Hyperband iteration). */
  readonly id: number;
  readonly members: readonly number[];
  /** Index into `rungs` of the rung being run. */
  rung: number;
}

/** `<out>/sweep.json`. */
export interface SweepState {
  readonly format: 'fitstream-sweep';
  readonly version: 1;
  readonly name: string;
  readonly file: string;
  /** The sweep's definition; a resumed sweep must have the same (only `trials` may grow, without Hyperband). */
  readonly definition: Definition;
  readonly sampler: { readonly type: string; readonly seed: number; readonly drawn: number; readonly next: number };
  readonly objective: { readonly metric: string; readonly mode: 'min' | 'max' };
  status: 'running' | 'interrupted' | 'finished';
  brackets?: BracketRecord[];
  trials: TrialRecord[];
  readonly createdAt: string;
  updatedAt: string;
}

/** What identifies a sweep: two runs of `fitstream sweep` continue each other only when these are equal. */
export interface Definition {
  readonly base: string;
  readonly set: unknown;
  readonly space: unknown;
  readonly sampler: string;
  readonly seed: number;
  readonly objective: unknown;
  readonly pruner: unknown;
}

/** sweep.json's path under a sweep's `out`. */
export const statePath = (out: string): string => join(out, 'sweep.json');

/** `trial-0007`. */
export const trialName = (id: number): string => `trial-${String(id).padStart(4, '0')}`;

function definitionOf(plan: SweepPlan): Definition {
  const s = plan.spec;
  return { base: s.base, set: s.set, space: s.space, sampler: s.sampler, seed: s.seed, objective: { metric: s.objective.metric, mode: plan.direction }, pruner: s.pruner };
}

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) : value,
  );

function newTrial(plan: SweepPlan, id: number): TrialRecord {
  const t = plan.trials[id]!;
  return { id, name: trialName(id), params: t.params, config: t.config, ...(t.bracket !== undefined ? { bracket: t.bracket } : {}), status: 'pending', epochs: [], decisions: [], runs: 0, durationMs: 0 };
}

function bracketsOf(plan: SweepPlan): BracketRecord[] | undefined {
  if (!plan.brackets) return undefined;
  const ids = [...new Set(plan.trials.map((t) => t.bracket!))];
  return ids.map((id) => {
    const b = plan.brackets![id % plan.brackets!.length]!;
    return { ...b, id, members: plan.trials.filter((t) => t.bracket === id).map((t) => t.id), rung: 0 };
  });
}

/** A fresh state for a planned sweep: every trial pending. */
export function initialState(plan: SweepPlan, now = new Date()): SweepState {
  const brackets = bracketsOf(plan);
  return {
    format: 'fitstream-sweep',
    version: 1,
    name: plan.spec.name,
    file: plan.spec.file,
    definition: definitionOf(plan),
    sampler: { type: plan.spec.sampler, seed: plan.spec.seed, drawn: plan.trials.length, next: plan.trials.length },
    objective: { metric: plan.spec.objective.metric, mode: plan.direction },
    status: 'running',
    ...(brackets ? { brackets } : {}),
    trials: plan.trials.map((_, id) => newTrial(plan, id)),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

/** Reads `<out>/sweep.json`; `undefined` when there is none. */
export async function readState(out: string): Promise<SweepState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(out), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let state: SweepState;
  try {
    state = JSON.parse(text) as SweepState;
  } catch (error) {
    throw new ConfigError(`${statePath(out)} is not valid JSON (${(error as Error).message}); it is written atomically, so something else changed it. Move it away to start the sweep over.`);
  }
  if (state.format !== 'fitstream-sweep' || state.version !== 1) throw new ConfigError(`${statePath(out)} is not a fitstream sweep state (format ${String(state.format)}, version ${String(state.version)}); choose another out.`);
  return state;
}

/**
 * Continues a saved state with a plan: the same definition is required (the sampler, seed and space decide every
 * trial's configuration), trials are added when `trials` grew, and each kept trial's configuration must still resolve
 * to what it ran with (a changed base config file would mix two sweeps).
 */
export function continueState(saved: SweepState, plan: SweepPlan, out: string): SweepState {
  const definition = definitionOf(plan);
  const differing = (Object.keys(definition) as (keyof Definition)[]).filter((k) => canonical(definition[k]) !== canonical(saved.definition[k]));
  if (differing.length > 0) {
    throw new ConfigError(
      `${statePath(out)} belongs to a different sweep: ${differing.map((k) => `${k} was ${canonical(saved.definition[k])}, is ${canonical(definition[k])}`).join('; ')}. ` +
        `Continue it with the sweep file it was started with, or set another out.`,
    );
  }
  if (plan.trials.length < saved.trials.length || (saved.brackets && plan.trials.length !== saved.trials.length)) {
    throw new ConfigError(`${statePath(out)} has ${saved.trials.length} trials and the sweep file asks for ${plan.trials.length}: ${saved.brackets ? 'a Hyperband sweep keeps its trials' : 'trials may grow, not shrink'}. Set trials: ${saved.trials.length}${saved.brackets ? '' : ' or more'}, or another out.`);
  }
  for (const t of saved.trials) {
    if (canonical(t.config) !== canonical(plan.trials[t.id]!.config)) {
      throw new ConfigError(`${statePath(out)}: ${t.name} ran with another configuration than the sweep file now gives it (did the base config change?). Restore it, or set another out.`);
    }
  }
  const trials = [...saved.trials, ...plan.trials.slice(saved.trials.length).map((t) => newTrial(plan, t.id))];
  return { ...saved, status: 'running', sampler: { ...saved.sampler, drawn: trials.length, next: trials.length }, trials };
}

/**
 * Writes the state atomically after each change, one write at a time: a change made while a write is in flight is
 * written right after it (the newest state wins; none is lost).
 */
export class StateWriter {
  private writing: Promise<void> | undefined;
  private dirty = false;

  constructor(
    private readonly out: string,
    private readonly state: SweepState,
  ) {}

  /** Schedules a write of the current state; resolves once a write that includes this change is on disk. */
  save(): Promise<void> {
    this.dirty = true;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      this.state.updatedAt = new Date().toISOString();
      await writeFileAtomic(statePath(this.out), `${JSON.stringify(this.state, null, 2)}\n`);
    }
  }
}
