import type { TrainerControl } from '@fitstream/core';

/**
 * Runs `action` once every subscriber has seen `fit:end`, before `fit` resolves (held with `control.await`).
 *
 * Plugins that write into the model when a fit ends (early stopping's best weights, EMA's average) do it here, so that
 * whatever saves the run on `fit:end` — `backupAndRestore`'s interruption backup, any `control.saveCheckpoint`, which
 * takes its snapshot synchronously — saves the weights being trained and the plugins' state before they changed,
 * whatever the order of `trainer.use`. Several such actions run in subscription order, so the later plugin still wins.
 *
 * @example
 * ```ts
 * events$.pipe(ofType('fit:end')).subscribe(() => afterFitEnd(control, () => control.restoreWeights(best)));
 * ```
 */
export function afterFitEnd(control: Pick<TrainerControl, 'await'>, action: () => void): void {
  // A microtask: `fit:end` is dispatched synchronously to every subscriber, and core awaits what is held right after.
  control.await(Promise.resolve().then(action));
}
