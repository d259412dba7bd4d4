import * as tf from '@tensorflow/tfjs';
import { Subscription, type Observable } from 'rxjs';
import { ofType, provide, StateProvider, WeightConstraint, WeightView, type Plugin, type TrainerControl } from '@fitstream/core';
import { afterFitEnd } from '../policies/after-fit-end.js';
import { assertFiniteNumber, assertPositiveInt } from '../policies/monitor.js';
import { asRecord, readNum } from '../policies/resumable-state.js';
import { AveragedWeights, readNames } from './averaged-weights.js';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { AveragingEvent } from './events.js';
import { floatWeightNames, trainableWeightNames } from './weights.js';
import { inputError } from '../input-error.js';

/** Options of {@link ema}. */
export interface EmaOptions {
  /** Weight of the old average at each update, in (0, 1); default 0.999 (Keras `ema_momentum`). */
  readonly decay?: number;
  /**
   * Use `min(decay, (1 + t) / (10 + t))` at the t-th update (0-based), as TF `ExponentialMovingAverage` with
   * `num_updates`: early updates move the average fast, so a short fit is not dominated by the initial weights.
   * Default `false`.
   */
  readonly warmup?: boolean;
  /** Update after every k-th optimizer step (global steps k, 2k, …); default 1. */
  readonly every?: number;
  /**
   * `'trainable'` (default, Keras `use_ema`): the weights the optimizer trains; weights that become trainable
   * mid-fit (unfreezing) join at their first update. The rest (batch-norm moving statistics, frozen layers) come from
   * the model as it is when the average is applied. `'all'`: every float weight, statistics included (TF
   * `ExponentialMovingAverage` over all variables).
   */
  readonly include?: 'trainable' | 'all';
  /** Validate (and `trainer.evaluate`) with the averaged weights; default `true`. */
  readonly evaluation?: boolean;
  /** Checkpoints hold the averaged weights in their `model.json` (the trained ones beside them, for resume); default `false`. */
  readonly checkpoints?: boolean;
  /** When the fit completes or is stopped, write the averaged weights into the model (Keras `finalize_variable_values`); default `true`. */
  readonly finalize?: boolean;
}

/** The plugin {@link ema} returns. */
export interface Ema<M extends string = string> extends Plugin<M> {
  /** `ema:finalized`, also published on `trainer.events$`. */
  readonly events$: Observable<AveragingEvent<'ema:finalized'>>;
  /** Updates folded into the average in the current (or last) fit. */
  readonly updates: number;
  /**
   * Copies of every model weight as the averaged model has it (caller disposes): averaged weights from the average,
   * the others from the model. After a finalized fit the model itself holds the average and this copies it.
   */
  averagedWeights(): Map<string, tf.Tensor>;
  /** Frees the average kept after a fit that did not finalize (for `trainer.evaluate`); `trainer.dispose()` calls it. Idempotent. */
  dispose(): void;
}

/** The decay of the update after `updates` earlier ones: `decay`, or with `warmup` `min(decay, (1 + t) / (10 + t))`. */
export function emaDecay(updates: number, decay: number, warmup: boolean): number {
  return warmup ? Math.min(decay, (1 + updates) / (10 + updates)) : decay;
}

/**
 * An exponential moving average of the weights: after every applied optimizer step (skipped steps do not count),
 * `average ← average − (1 − decay)·(average − weights)`, on the device in one `tf.tidy`, starting from the weights
 * at the start of the fit. Validation and `trainer.evaluate` use the average (`evaluation`), checkpoints may hold it
 * (`checkpoints`), and when the fit completes or is stopped the model gets it (`finalize`, after every other subscriber
 * has seen `fit:end`, so that a backup taken then saves the trained weights and the average). Each fit starts a new
 * average; a fit resumed from a checkpoint continues the saved one exactly.
 *
 * @example
 * ```ts
 * const averaged = ema({ decay: 0.999, warmup: true });
 * await trainer.use(averaged).fit(data, { epochs: 20, validation });
 * // val_loss was measured with the averaged weights; the model now holds them.
 * ```
 */
export function ema<M extends string = string>(options: EmaOptions = {}): Ema<M> {
  const decay = assertFiniteNumber(options.decay ?? 0.999, 'ema: decay', (v) => v > 0 && v < 1, 'a number in (0, 1) such as 0.999');
  const warmup = options.warmup ?? false;
  const every = assertPositiveInt(options.every ?? 1, 'ema: every');
  const include = options.include ?? 'trainable';
  if (include !== 'trainable' && include !== 'all') throw inputError(`ema: include must be 'trainable' or 'all', got ${String(include)}.`);
  const evaluation = options.evaluation ?? true;
  const checkpoints = options.checkpoints ?? false;
  const finalize = options.finalize ?? true;
  const name = 'ema';
  const store = new AveragedWeights(name);
  const emitter = new PluginEventEmitter<'ema:finalized'>();
  let updates = 0;
  let restored = false;
  let savedOrder: readonly string[] | undefined;
  /** Set by the post-update hook when an applied step is due an EMA update: the variables that step trained. */
  let due: readonly tf.Variable[] | undefined;
  let nameOf = new Map<tf.Variable, string>();

  // The update runs at the first of: this plugin's `step:end`, a checkpoint's getState/getTensors, the view, a read.
  // So a checkpoint written by a subscriber that sees `step:end` before this plugin still holds the update of that
  // step, as its model weights do, and a resume is exact whatever the plugin order.
  const flush = () => {
    if (!due) return;
    const trained = due;
    due = undefined;
    if (include === 'trainable') {
      for (const v of trained) {
        const n = nameOf.get(v);
        if (n !== undefined && v.dtype === 'float32') store.add(n);
      }
    }
    const rate = 1 - emaDecay(updates, decay, warmup);
    store.update((average, w) => tf.sub(average, tf.mul(tf.sub(average, w), rate)));
    updates += 1;
  };

  const state: StateProvider = {
    key: name,
    getState: () => {
      flush();
      return { updates, weights: store.order() ?? null };
    },
    setState: (json) => {
      const r = asRecord(json);
      updates = readNum(r.updates) ?? 0;
      savedOrder = readNames(r.weights);
      restored = true;
    },
    getTensors: () => {
      flush();
      return store.tensors();
    },
    setTensors: (tensors) => store.restore(tensors, savedOrder),
  };

  return {
    name,
    events$: emitter.events$,
    get updates() {
      return updates;
    },
    averagedWeights: () => {
      flush();
      return store.snapshot();
    },
    dispose: () => {
      due = undefined;
      store.dispose();
    },
    register: (container) => {
      provide(container, StateProvider, state);
      // The only hook that runs after an applied optimizer update (never after a skipped one); it changes nothing.
      provide(container, WeightConstraint, {
        name,
        apply: (variables, ctx) => {
          if ((ctx.step + 1) % every === 0) due = variables;
        },
      });
      if (evaluation || checkpoints) {
        provide(container, WeightView, {
          name,
          evaluation,
          checkpoints,
          apply: () => {
            flush();
            return store.apply();
          },
        });
      }
    },
    attach: (events$, control: TrainerControl<M>) => {
      const resumed = restored;
      restored = false;
      due = undefined;
      store.release();
      const weights = control.namedWeights();
      nameOf = new Map([...weights].map(([n, v]) => [v, n]));
      store.bind(weights);
      if (!resumed || store.size === 0) {
        updates = 0;
        store.reset(include === 'all' ? floatWeightNames(weights) : trainableWeightNames(control.model, weights));
      }
      const subscription = new Subscription(() => {
        due = undefined;
        store.release();
      });
      subscription.add(events$.pipe(ofType('epoch:start', 'batch:start', 'validation:start', 'epoch:end')).subscribe(() => store.release()));
      subscription.add(events$.pipe(ofType('step:end')).subscribe(() => flush()));
      subscription.add(
        events$.pipe(ofType('fit:end')).subscribe((e) => {
          flush();
          if (!finalize || e.reason === 'error') return;
          // Once every subscriber has seen fit:end: a backup taken then holds the trained weights and the average.
          afterFitEnd(control, () => {
            store.finalize();
            emitter.emit(control, 'ema:finalized', { epoch: e.epoch, step: e.step, updates, reason: e.reason });
          });
        }),
      );
      return subscription;
    },
  };
}
