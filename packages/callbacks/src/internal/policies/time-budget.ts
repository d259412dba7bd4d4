import { Subscription, type Observable } from 'rxjs';
import { ofType, provide, StateProvider, type Plugin, type TrainerControl } from '@fitstream/core';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { PolicyEvent } from './events.js';
import { assertFiniteNumber } from './monitor.js';
import { ResumableState, asRecord, readNum } from './resumable-state.js';
import { inputError } from '../input-error.js';

/** Options of {@link timeBudget}: the budget is the sum of the given parts. */
export interface TimeBudgetOptions {
  readonly hours?: number;
  readonly minutes?: number;
  readonly seconds?: number;
  readonly milliseconds?: number;
  /** Check after every optimizer step (default) or only at epoch ends (whole epochs, at most one epoch over budget). */
  readonly interval?: 'step' | 'epoch';
  /** Request a final checkpoint (into the fit's `checkpointDir`, which must be set) before stopping. Default `false`. */
  readonly checkpoint?: boolean;
  /** Clock in milliseconds (default `performance.now`); for tests. */
  readonly now?: () => number;
  readonly name?: string;
}

/** The plugin {@link timeBudget} returns. */
export interface TimeBudget<M extends string = string> extends Plugin<M> {
  readonly budgetMs: number;
  /** Training time spent so far, including fits this one resumed from. */
  elapsedMs(): number;
  remainingMs(): number;
  readonly events$: Observable<PolicyEvent<'timeBudget:expired'>>;
}

/**
 * Stops training when a wall-clock budget is spent (Lightning `Timer` / `max_time`), optionally writing a final
 * checkpoint first. Time spent before a resume counts: it is saved in checkpoints.
 *
 * @example
 * ```ts
 * trainer.use(timeBudget({ hours: 2, checkpoint: true }));
 * await trainer.fit(data, { epochs: 1000, checkpointDir: 'runs/ckpt' });
 * ```
 */
export function timeBudget<M extends string = string>(options: TimeBudgetOptions): TimeBudget<M> {
  const part = (v: number | undefined, what: string) => (v === undefined ? 0 : assertFiniteNumber(v, `timeBudget: ${what}`, (x) => x >= 0, 'a finite number ≥ 0'));
  const budgetMs = part(options.hours, 'hours') * 3_600_000 + part(options.minutes, 'minutes') * 60_000 + part(options.seconds, 'seconds') * 1000 + part(options.milliseconds, 'milliseconds');
  if (!(budgetMs > 0)) throw inputError('timeBudget: give a budget > 0, e.g. { minutes: 30 }.');
  const interval = options.interval ?? 'step';
  const now = options.now ?? (() => performance.now());
  const name = options.name ?? 'time-budget';
  const emitter = new PluginEventEmitter<'timeBudget:expired'>();
  const state = new ResumableState<{ elapsedMs: number }>(() => ({ elapsedMs: 0 }), {
    toJson: (s) => ({ elapsedMs: startedAt === undefined ? s.elapsedMs : now() - startedAt }),
    fromJson: (j) => ({ elapsedMs: readNum(asRecord(j).elapsedMs) ?? 0 }),
  });
  let startedAt: number | undefined;
  const elapsedMs = () => (startedAt === undefined ? state.current.elapsedMs : now() - startedAt);

  return {
    name,
    budgetMs,
    elapsedMs,
    remainingMs: () => Math.max(0, budgetMs - elapsedMs()),
    events$: emitter.events$,
    register: (c) => provide(c, StateProvider, state.provider(name)),
    attach: (events$, control: TrainerControl<M>) => {
      state.begin();
      startedAt = now() - state.current.elapsedMs;
      let expired = false;
      const check = (epoch: number, step: number) => {
        const spent = now() - startedAt!;
        if (expired || spent < budgetMs) return;
        expired = true;
        if (options.checkpoint) control.requestCheckpoint(`time budget of ${budgetMs} ms spent`);
        control.stop(`timeBudget: ${Math.round(spent)} ms of ${budgetMs} ms spent`);
        emitter.emit(control, 'timeBudget:expired', { epoch, step, elapsedMs: spent, budgetMs, checkpointRequested: options.checkpoint ?? false });
      };
      const subscription = new Subscription(() => {
        state.current = { elapsedMs: elapsedMs() };
        startedAt = undefined;
      });
      if (interval === 'step') subscription.add(events$.pipe(ofType('step:end')).subscribe((e) => check(e.epoch, e.step)));
      subscription.add(events$.pipe(ofType('epoch:end')).subscribe((e) => check(e.epoch, e.step)));
      return subscription;
    },
  };
}
