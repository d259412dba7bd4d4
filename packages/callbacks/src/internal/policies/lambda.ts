import type { Observable, Subscription, TeardownLogic } from 'rxjs';
import type { Plugin, TrainerControl, TrainerEvent } from '@fitstream/core';
import { inputError } from '../input-error.js';

/**
 * A custom callback in one line: a name and a function of the event stream and the control, returning the subscription
 * (closed when the fit ends). Sugar for the plain `Plugin` object `{ name, attach }`.
 *
 * @example
 * ```ts
 * trainer.use(callback('every-5th-epoch', (events$) =>
 *   events$.pipe(ofType('epoch:end'), filter((e) => e.epoch % 5 === 0)).subscribe((e) => console.log(e.epoch, e.metrics.loss))));
 * ```
 */
export function callback<M extends string = string>(
  name: string,
  attach: (events$: Observable<TrainerEvent<M>>, control: TrainerControl<M>) => Subscription | TeardownLogic | void,
): Plugin<M> {
  if (typeof name !== 'string' || name.length === 0) throw inputError('callback(name, attach): name must be a non-empty string (plugin names are unique per trainer).');
  if (typeof attach !== 'function') throw inputError(`callback("${name}", attach): attach must be a function (events$, control) => subscription.`);
  return { name, attach };
}
