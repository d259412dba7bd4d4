import * as tf from '@tensorflow/tfjs';
import { Subscription, type Observable } from 'rxjs';
import { GradientTransform, LossTransform, ofType, provide, type Plugin, type TrainerControl } from '@fitstream/core';
import { PluginEventEmitter } from '../events/plugin-event-emitter.js';
import type { PolicyEvent } from './events.js';
import { assertPositiveInt } from './monitor.js';

/** Options of {@link terminateOnNaN}. */
export interface TerminateOnNaNOptions {
  /**
   * Check every n-th batch (default 1). Each check is one device read. With `1` the check reads the batch's lazy
   * metrics (free when a progress bar or logger reads them anyway); with n > 1 a device-side counter of non-finite
   * losses is read once per n batches, so no bad batch in between goes unnoticed — but updates from those batches were
   * already applied, and the weights may be non-finite by the time the fit stops.
   */
  readonly every?: number;
  /** Skip the optimizer update of the batch found non-finite, so the weights stay finite (default `true`). */
  readonly skipUpdate?: boolean;
  readonly name?: string;
}

/** The plugin {@link terminateOnNaN} returns. */
export interface TerminateOnNaN<M extends string = string> extends Plugin<M> {
  readonly events$: Observable<PolicyEvent<'terminateOnNaN:stopped'>>;
}

/**
 * Stops the fit at the first batch whose loss is NaN or ±Infinity (Keras `TerminateOnNaN`), and by default skips that
 * batch's optimizer update (Keras applies it, leaving non-finite weights). Emits `terminateOnNaN:stopped`.
 *
 * Cost: reading the loss is a device→host sync per checked batch (`every`, default each batch). On cpu/wasm that is
 * free; on WebGL/CUDA it stalls the pipeline once per check: raise `every` to trade detection latency for throughput.
 *
 * @example
 * ```ts
 * trainer.use(terminateOnNaN());              // check every batch
 * trainer.use(terminateOnNaN({ every: 50 })); // one device read per 50 batches
 * ```
 */
export function terminateOnNaN<M extends string = string>(options: TerminateOnNaNOptions = {}): TerminateOnNaN<M> {
  const every = assertPositiveInt(options.every ?? 1, 'terminateOnNaN: every');
  const skipUpdate = options.skipUpdate ?? true;
  const name = options.name ?? 'terminate-on-nan';
  const emitter = new PluginEventEmitter<'terminateOnNaN:stopped'>();
  let nonFinite: tf.Scalar | undefined; // device-side count of non-finite losses since the last check (every > 1)
  let skipStep: number | undefined; // the optimizer step whose update is skipped (its `step` before the update)
  const resetCounter = () => {
    nonFinite?.dispose();
    nonFinite = undefined;
  };

  return {
    name,
    events$: emitter.events$,
    register: (c) => {
      if (every > 1) {
        // Observes the loss inside the step without changing it: counts non-finite values on the device (no sync).
        provide(c, LossTransform, {
          name,
          total: (loss) => {
            const next = tf.keep(tf.tidy(() => {
              const bad = tf.cast(tf.logicalNot(tf.isFinite(loss)), 'float32');
              return (nonFinite ? tf.add(nonFinite, bad) : bad) as tf.Scalar;
            }));
            nonFinite?.dispose();
            nonFinite = next;
            return loss;
          },
        });
      }
      if (skipUpdate) provide(c, GradientTransform, { name, transform: (grads, ctx) => (ctx.step === skipStep ? null : grads) });
    },
    attach: (events$, control: TrainerControl<M>) => {
      skipStep = undefined;
      resetCounter();
      let batches = 0;
      const subscription = new Subscription(resetCounter);
      subscription.add(
        events$.pipe(ofType('batch:end')).subscribe((e) => {
          batches += 1;
          if (batches % every !== 0) return;
          let bad: number;
          if (every === 1) bad = Number.isFinite(e.metrics.loss) ? 0 : 1;
          else {
            bad = nonFinite ? nonFinite.dataSync()[0]! : 0;
            resetCounter();
          }
          if (bad === 0) return;
          const loss = e.metrics.loss;
          if (!Number.isFinite(loss)) skipStep = e.step;
          control.stop(`terminateOnNaN: non-finite loss (${loss}) at epoch ${e.epoch}, batch ${e.batch}`);
          emitter.emit(control, 'terminateOnNaN:stopped', { epoch: e.epoch, step: e.step, batch: e.batch, loss, nonFiniteBatches: bad });
        }),
      );
      return subscription;
    },
  };
}
