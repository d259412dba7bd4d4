import { LearningRateBase, provide, type LearningRatePosition, type Plugin } from '@fitstream/core';
import { assertFiniteNumber } from '../policies/monitor.js';
import { inputError } from '../input-error.js';

/** Whether a schedule's index `t` counts optimizer steps or epochs. */
export type ScheduleInterval = 'step' | 'epoch';

/** Options every schedule takes. */
export interface ScheduleOptions {
  /**
   * The base rate the formula scales. Default: the run's base rate, i.e. the optimizer's learning rate when the run's
   * first fit started (PyTorch's `base_lr`, kept in checkpoints by core); give it to call the schedule as a pure function
   * before training.
   */
  readonly initialLr?: number;
  /** Advance per optimizer step (default) or per epoch. */
  readonly interval?: ScheduleInterval;
  /** Plugin name (default: the schedule's kind). */
  readonly name?: string;
}

/**
 * A learning-rate schedule: a pure function `(t, baseLr?) → lr` that is also a plugin providing core's
 * `LearningRateBase` (the one base schedule of the trainer's learning-rate pipeline). `t` is the 0-based optimizer step
 * (`interval: 'step'`) or epoch (`'epoch'`). Core multiplies its rate by the modifiers (warm-up, plateau, …).
 */
export interface LearningRateSchedule<M extends string = string> extends Plugin<M> {
  (t: number, baseLr?: number): number;
  readonly name: string;
  readonly interval: ScheduleInterval;
  /** The base rate given in the options, or the run's base rate once a fit has asked the schedule for a rate. */
  readonly initialLr: number | undefined;
  /** The formula itself, for composition (`warmup`). */
  readonly formula: (t: number, baseLr: number) => number;
  /** Whether the schedule ramps the rate up itself (one-cycle, `warmup(…, schedule)`): core refuses a second warm-up beside it. */
  readonly shapesWarmup: boolean;
}

/** Builds a schedule plugin around a formula. */
export function createSchedule<M extends string = string>(
  kind: string,
  options: ScheduleOptions & { readonly shapesWarmup?: boolean },
  formula: (t: number, baseLr: number) => number,
): LearningRateSchedule<M> {
  const interval = options.interval ?? 'step';
  if (interval !== 'step' && interval !== 'epoch') throw inputError(`${kind}: interval must be 'step' or 'epoch', got ${String(interval)}.`);
  if (options.initialLr !== undefined) assertFiniteNumber(options.initialLr, `${kind}: initialLr`, (v) => v >= 0, 'a finite number ≥ 0');
  const name = options.name ?? kind;
  const shapesWarmup = options.shapesWarmup ?? false;
  // The run's base rate as core last gave it: core keeps it (checkpoints included), so the schedule holds no state.
  let captured: number | undefined = options.initialLr;

  const schedule = (t: number, baseLr?: number): number => {
    const base = baseLr ?? captured;
    if (base === undefined) {
      throw inputError(`${name}: no base learning rate yet; pass initialLr in the options or a base as the second argument.`);
    }
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw inputError(`${name}: the index must be a finite number ≥ 0, got ${String(t)}.`);
    return formula(t, base);
  };

  const base: LearningRateBase = {
    name,
    shapesWarmup,
    rate: (p: LearningRatePosition) => {
      captured = options.initialLr ?? p.initialLr;
      return schedule(interval === 'step' ? p.step : p.epoch);
    },
  };
  const plugin: Omit<LearningRateSchedule<M>, 'name' | 'initialLr'> = {
    interval,
    formula,
    shapesWarmup,
    register: (r) => provide(r, LearningRateBase, base),
  };
  Object.defineProperty(schedule, 'name', { value: name });
  Object.defineProperty(schedule, 'initialLr', { get: () => captured, enumerable: true });
  return Object.assign(schedule, plugin) as unknown as LearningRateSchedule<M>;
}
