import type { DependencyContainer } from 'tsyringe';
import { Subscription, type Observable } from 'rxjs';
import { LearningRateOwner, ofType, provide, resolveAll, StateProvider, type Plugin, type TrainerControl } from '@fitstream/core';
import { PolicyEmitter, type PolicyEvent } from '../policies/events.js';
import { assertFiniteNumber } from '../policies/monitor.js';
import { ResumableState, asRecord, readNum } from '../policies/resumable-state.js';
import { LearningRateScale } from './learning-rate-scale.js';

/** Whether a schedule's index `t` counts optimizer steps or epochs. */
export type ScheduleInterval = 'step' | 'epoch';

/** Options every schedule takes. */
export interface ScheduleOptions {
  /**
   * The base rate the formula scales. Default: the optimizer's learning rate when the first fit starts (PyTorch's
   * `base_lr`); give it to call the schedule as a pure function before training.
   */
  readonly initialLr?: number;
  /** Advance per optimizer step (default) or per epoch. */
  readonly interval?: ScheduleInterval;
  /** Plugin name (default: the schedule's kind). */
  readonly name?: string;
}

/**
 * A learning-rate schedule: a pure function `(t, baseLr?) → lr` that is also a plugin owning the trainer's learning
 * rate. `t` is the 0-based optimizer step (`interval: 'step'`) or epoch (`'epoch'`).
 */
export interface LearningRateSchedule<M extends string = string> extends Plugin<M> {
  (t: number, baseLr?: number): number;
  readonly name: string;
  readonly interval: ScheduleInterval;
  /** The base rate given in the options, or captured from the optimizer at the first fit. */
  readonly initialLr: number | undefined;
  /** The formula itself, for composition (`warmup`). */
  readonly formula: (t: number, baseLr: number) => number;
  /** `lr:changed` events of this schedule (also on `trainer.events$` with cores that offer `control.emit`). */
  readonly events$: Observable<PolicyEvent<'lr:changed'>>;
}

interface ScheduleState {
  readonly base: number | undefined;
}

/** Builds a schedule plugin around a formula. */
export function createSchedule<M extends string = string>(
  kind: string,
  options: ScheduleOptions,
  formula: (t: number, baseLr: number) => number,
): LearningRateSchedule<M> {
  const interval = options.interval ?? 'step';
  if (interval !== 'step' && interval !== 'epoch') throw new RangeError(`${kind}: interval must be 'step' or 'epoch', got ${String(interval)}.`);
  if (options.initialLr !== undefined) assertFiniteNumber(options.initialLr, `${kind}: initialLr`, (v) => v >= 0, 'a finite number ≥ 0');
  const name = options.name ?? kind;
  const emitter = new PolicyEmitter<'lr:changed'>();
  let container: DependencyContainer | undefined;
  let captured: number | undefined = options.initialLr;
  const state = new ResumableState<ScheduleState>(() => ({ base: captured }), {
    toJson: (s) => ({ base: s.base ?? null }),
    fromJson: (j) => ({ base: readNum(asRecord(j).base) }),
  });

  const schedule = (t: number, baseLr?: number): number => {
    const base = baseLr ?? captured;
    if (base === undefined) {
      throw new RangeError(`${name}: no base learning rate yet; pass initialLr in the options or a base as the second argument.`);
    }
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new RangeError(`${name}: the index must be a finite number ≥ 0, got ${String(t)}.`);
    return formula(t, base);
  };

  const plugin: Omit<LearningRateSchedule<M>, 'name' | 'initialLr'> = {
    interval,
    formula,
    events$: emitter.events$,
    register: (c: DependencyContainer) => {
      container = c;
      provide(c, LearningRateOwner, { name });
      provide(c, StateProvider, state.provider(name));
    },
    attach: (events$, control: TrainerControl<M>) => {
      const resumed = state.begin();
      if (resumed && state.current.base !== undefined) captured = state.current.base;
      captured ??= control.getLearningRate();
      state.current = { base: captured };
      const scales = container ? resolveAll(container, LearningRateScale) : [];
      const apply = (t: number, epoch: number, step: number, announce: boolean) => {
        const lr = scales.reduce((v, s) => v * s.factor, schedule(t));
        const previous = control.getLearningRate();
        if (lr === previous) return;
        control.setLearningRate(lr);
        if (announce) emitter.emit(control, 'lr:changed', { epoch, step, previous, learningRate: lr, by: name, reason: 'schedule' });
      };
      // Set the first rate now, before `fit:start` is published, so every event of the fit carries the rate in force. A
      // resumed fit already has the checkpoint's rate; `fit:start` corrects the rare rest (`initialEpoch` > 0).
      if (!resumed) apply(0, 0, 0, false);
      const subscription = new Subscription();
      subscription.add(
        events$.pipe(ofType('fit:start')).subscribe((e) => apply(interval === 'step' ? e.step : e.initialEpoch, e.initialEpoch, e.step, true)),
      );
      // The next unit's rate is set as the previous one ends, so `batch:start`/`epoch:start` already carry it.
      if (interval === 'step') subscription.add(events$.pipe(ofType('step:end')).subscribe((e) => apply(e.step, e.epoch, e.step, true)));
      else subscription.add(events$.pipe(ofType('epoch:end')).subscribe((e) => apply(e.epoch + 1, e.epoch + 1, e.step, true)));
      return subscription;
    },
  };
  Object.defineProperty(schedule, 'name', { value: name });
  Object.defineProperty(schedule, 'initialLr', { get: () => captured, enumerable: true });
  return Object.assign(schedule, plugin) as unknown as LearningRateSchedule<M>;
}
