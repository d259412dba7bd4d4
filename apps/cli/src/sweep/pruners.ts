// Pruners: when to stop a trial early. The median pruner follows Optuna's MedianPruner (a PercentilePruner at 50)
// rule for rule; Hyperband follows Li et al. (2018) — brackets of successive halving, each trial's budget in epochs —
// run synchronously: the trials of a bracket pause at a rung (SIGINT: a checkpoint), the best 1/η of them continue
// from their checkpoints, the others are pruned. Pure functions of the curves, so they are tested on synthetic ones.

/** Whether larger or smaller objective values are better. */
export type Direction = 'min' | 'max';

/** Optuna's MedianPruner options, with steps counted in epochs. */
export interface MedianPrunerOptions {
  /** Pruning is off until this many trials have completed (Optuna's `n_startup_trials`, default 5). */
  readonly startupTrials: number;
  /** Pruning is off for a trial's first this many epochs (Optuna's `n_warmup_steps`, default 0). */
  readonly warmupEpochs: number;
  /** Epochs between pruning checks, counted after the warm-up (Optuna's `interval_steps`, default 1). */
  readonly interval: number;
  /** Completed trials that must have reported at an epoch for the median there to count (Optuna's `n_min_trials`, default 1). */
  readonly minTrials: number;
}

/** A trial's objective per step (epoch index, from 0), as Optuna's `intermediate_values`. */
export type Curve = ReadonlyMap<number, number>;

/** What the median pruner decided at a trial's last step, and why. */
export interface MedianDecision {
  readonly prune: boolean;
  readonly reason: string;
  /** The trial's best value so far (Optuna compares it, not the last one). */
  readonly best?: number;
  /** The median of the completed trials' values at this step. */
  readonly median?: number;
}

/** Four significant digits for a reason's numbers. */
const short = (v: number): string => String(Number(v.toPrecision(4)));

const nanBest = (values: Iterable<number>, direction: Direction): number => {
  let best = Number.NaN;
  for (const v of values) if (!Number.isNaN(v) && (Number.isNaN(best) || (direction === 'min' ? v < best : v > best))) best = v;
  return best;
};

/** `numpy.nanpercentile(values, q)` with linear interpolation (numpy's default); NaN when no value is a number. */
export function nanPercentile(values: readonly number[], q: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Optuna's `_is_first_in_interval_step`: the trial's step is the first it reported in its pruning interval. */
export function isFirstInIntervalStep(step: number, steps: Iterable<number>, warmup: number, interval: number): boolean {
  const nearestLowerPruningStep = Math.floor((step - warmup) / interval) * interval + warmup;
  let secondLast = -1;
  for (const s of steps) if (s > secondLast && s !== step) secondLast = s;
  return secondLast < nearestLowerPruningStep;
}

/**
 * Optuna's MedianPruner on one trial at its last reported step: prune when the trial's best value so far is worse than
 * the median of the completed trials' values at the same step. Not before `startupTrials` trials completed, not in the
 * trial's first `warmupEpochs` epochs, only at the first step of each `interval`; a trial whose values are all NaN is
 * pruned; a step at which fewer than `minTrials` completed trials reported does not prune.
 *
 * @example
 * ```ts
 * const completed = [new Map([[0, 1.0], [1, 0.5]]), new Map([[0, 1.2], [1, 0.7]])];
 * medianPrune(new Map([[0, 1.5], [1, 0.9]]), completed, { startupTrials: 2, warmupEpochs: 0, interval: 1, minTrials: 1 }, 'min').prune; // true
 * ```
 */
export function medianPrune(trial: Curve, completed: readonly Curve[], options: MedianPrunerOptions, direction: Direction): MedianDecision {
  if (completed.length === 0) return { prune: false, reason: 'no trial has completed yet' };
  if (completed.length < options.startupTrials) return { prune: false, reason: `${completed.length} of ${options.startupTrials} startup trials completed` };
  let step = -1;
  for (const s of trial.keys()) step = Math.max(step, s);
  if (step < 0) return { prune: false, reason: 'no epoch reported yet' };
  if (step < options.warmupEpochs) return { prune: false, reason: `warm-up (${options.warmupEpochs} epochs)` };
  if (!isFirstInIntervalStep(step, trial.keys(), options.warmupEpochs, options.interval)) return { prune: false, reason: `between checks (every ${options.interval} epochs)` };
  const best = nanBest(trial.values(), direction);
  if (Number.isNaN(best)) return { prune: true, reason: 'every value so far is NaN' };
  const atStep = completed.flatMap((c) => (c.has(step) ? [c.get(step)!] : []));
  if (atStep.length < options.minTrials) return { prune: false, reason: `${atStep.length} completed trials reached epoch ${step} (need ${options.minTrials})`, best };
  const median = nanPercentile(atStep, 50);
  if (Number.isNaN(median)) return { prune: false, reason: 'the completed trials have no value at this epoch', best };
  const prune = direction === 'max' ? best < median : best > median;
  const worse = direction === 'max' ? '<' : '>';
  return { prune, reason: `best ${short(best)} ${prune ? worse : 'is not worse than'} median ${short(median)} of ${atStep.length} completed trials at epoch ${step}`, best, median };
}

/** Hyperband's options: the smallest and largest number of epochs a trial gets, and the reduction factor η. */
export interface HyperbandOptions {
  readonly minEpochs: number;
  readonly maxEpochs: number;
  readonly reductionFactor: number;
}

/** One bracket of Hyperband: how many trials start in it, and the epochs (cumulative) at which they are compared. */
export interface Bracket {
  /** 0 is the most exploratory bracket (the most trials, the smallest first rung). */
  readonly index: number;
  readonly trials: number;
  /** Epochs after which the bracket's trials are compared; the last is `maxEpochs` (trials that get there complete). */
  readonly rungs: readonly number[];
}

/**
 * Hyperband's brackets (Li et al. 2018, algorithm 1) with R = maxEpochs / minEpochs resource units:
 * s_max = ⌊log_η R⌋; bracket s (from s_max down to 0) starts n = ⌈(s_max + 1) η^s / (s + 1)⌉ trials with maxEpochs · η^−s
 * epochs and compares them after maxEpochs · η^(i − s) epochs, i = 0 … s.
 *
 * @example
 * ```ts
 * hyperbandBrackets({ minEpochs: 1, maxEpochs: 9, reductionFactor: 3 });
 * // [{ index: 0, trials: 9, rungs: [1, 3, 9] }, { index: 1, trials: 5, rungs: [3, 9] }, { index: 2, trials: 3, rungs: [9] }]
 * ```
 */
export function hyperbandBrackets(options: HyperbandOptions): Bracket[] {
  const { minEpochs, maxEpochs, reductionFactor: eta } = options;
  // The epsilon keeps exact powers (9 / 1 with η = 3) from flooring to one less through rounding in the logarithm.
  const sMax = Math.floor(Math.log(maxEpochs / minEpochs) / Math.log(eta) + 1e-9);
  const brackets: Bracket[] = [];
  for (let s = sMax; s >= 0; s--) {
    const trials = Math.ceil(((sMax + 1) * eta ** s) / (s + 1));
    const rungs: number[] = [];
    for (let i = 0; i <= s; i++) {
      const epochs = i === s ? maxEpochs : Math.max(minEpochs, Math.round(maxEpochs * eta ** (i - s)));
      if (rungs.length === 0 || epochs > rungs[rungs.length - 1]!) rungs.push(epochs);
    }
    brackets.push({ index: sMax - s, trials, rungs });
  }
  return brackets;
}

/**
 * Assigns trials 0 … count − 1 to brackets: the brackets in order (most exploratory first), each with its number of
 * trials, repeated (a second Hyperband iteration) until `count` trials have one; the last one may be partly filled.
 *
 * @example
 * ```ts
 * bracketOfTrials(hyperbandBrackets({ minEpochs: 1, maxEpochs: 9, reductionFactor: 3 }), 12); // nine 0s, then three 1s
 * ```
 */
export function bracketOfTrials(brackets: readonly Bracket[], count: number): number[] {
  const out: number[] = [];
  for (let cycle = 0; out.length < count; cycle++) {
    for (const b of brackets) {
      for (let k = 0; k < b.trials && out.length < count; k++) out.push(cycle * brackets.length + b.index);
    }
  }
  return out;
}

/** The trials of one Hyperband iteration. */
export const hyperbandTrials = (brackets: readonly Bracket[]): number => brackets.reduce((n, b) => n + b.trials, 0);

/** A trial's objective at a rung; NaN when it has none there (it ranks last). */
export interface RungEntry {
  readonly id: number;
  readonly value: number;
}

/**
 * Successive halving at one rung: the best ⌊n / η⌋ of the n trials that reached it continue (at least one: Optuna's
 * `_is_trial_promotable_to_next_rung` promotes the best of fewer than η), the others are pruned. NaN ranks last; ties
 * go to the earlier trial.
 *
 * @example
 * ```ts
 * successiveHalving([{ id: 0, value: 0.3 }, { id: 1, value: 0.1 }, { id: 2, value: 0.2 }], 3, 'min'); // { promoted: [1], pruned: [2, 0] }
 * ```
 */
export function successiveHalving(entries: readonly RungEntry[], reductionFactor: number, direction: Direction): { promoted: number[]; pruned: number[] } {
  const sign = direction === 'min' ? 1 : -1;
  const ranked = [...entries].sort((a, b) => {
    if (Number.isNaN(a.value) !== Number.isNaN(b.value)) return Number.isNaN(a.value) ? 1 : -1;
    return (Number.isNaN(a.value) ? 0 : sign * (a.value - b.value)) || a.id - b.id;
  });
  const keep = Math.max(1, Math.floor(entries.length / reductionFactor));
  return { promoted: ranked.slice(0, keep).map((e) => e.id), pruned: ranked.slice(keep).map((e) => e.id) };
}
