import type { PluginRegistry } from '../di/token.js';
import type { Observable, Subscription, TeardownLogic } from 'rxjs';
import type { TrainerEvent } from '../events/event-map.js';
import type { TrainerControl } from './trainer-control.js';

/**
 * A resource a plugin claims. Two plugins claiming one resource conflict when either claim is `exclusive` or their
 * `value`s differ (e.g. `{ resource: 'batch-order', value: 'sequential' }` from a stateful RNN runner against
 * `{ resource: 'batch-order', value: 'shuffled' }` from a shuffling sampler).
 */
export interface Claim {
  readonly resource: string;
  readonly value?: string;
  readonly exclusive?: boolean;
}

/**
 * A fitstream plugin. `register` contributes to DI plugin points (batch/loss/gradient transforms, weight constraints,
 * state providers, learning-rate schedules and modifiers — see `PLUGIN_POINTS`); `attach` subscribes to the event
 * stream and steers through the control.
 *
 * @example
 * ```ts
 * const logEveryFifthEpoch = (): Plugin => ({
 *   name: 'log-every-fifth-epoch',
 *   attach: (events$) => events$.pipe(ofType('epoch:end'), filter((e) => e.epoch % 5 === 0))
 *     .subscribe((e) => console.log(e.epoch, e.metrics.loss)),
 * });
 * trainer.use(logEveryFifthEpoch());
 * ```
 */
export interface Plugin<M extends string = string> {
  readonly name: string;
  readonly claims?: readonly Claim[];
  /**
   * Called once, when the plugin is added with `trainer.use`, with a registry that adds to the trainer's plugin points
   * (`provide(registry, BatchTransform, …)`). Plugins cannot resolve or replace other plugins' registrations.
   */
  register?(registry: PluginRegistry): void;
  /** Called at the start of every fit; the subscription is closed when the fit ends. */
  attach?(events$: Observable<TrainerEvent<M>>, control: TrainerControl<M>): Subscription | TeardownLogic | void;
  /**
   * Called by `trainer.dispose()`, in reverse order of `use`: free what the plugin keeps between fits (tensors such as
   * an average kept for `trainer.evaluate`, open handles). One plugin object used on several trainers is disposed by
   * each of them, so make it idempotent.
   */
  dispose?(): void;
}
