import { ofType, type PluginRegistry, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import type { Observable, Subscription } from 'rxjs';
import { FitstreamInputError } from '@fitstream/core';
import type { DistributedContext } from '../init.js';
import { ReplicaSupport, type ReplicaOptions } from './common.js';
import { withFlatWeights } from './weights.js';

/** Options of {@link localSGD}. */
export interface LocalSgdOptions extends ReplicaOptions {
  /** Average the replicas' weights every `period` optimizer steps (H). H = 1 is synchronous SGD. */
  readonly period: number;
}

/** The plugin {@link localSGD} returns. */
export interface LocalSgd extends Plugin {
  /** Weight averagings done in this process. */
  readonly averagings: number;
}

/**
 * Local SGD / periodic model averaging (Lin et al. 2020, "Don't use large mini-batches, use local SGD"): every replica
 * takes `period` (H) optimizer steps on its own shard, then the weights are averaged across replicas (one all-reduce of
 * the model instead of one of the gradients per step). With plain SGD and equal shards, H = 1 equals synchronous
 * data-parallel SGD. Replicas are also averaged at every epoch end, so epoch-end checkpoints hold the common model.
 *
 * @example
 * ```ts
 * trainer.use(localSGD(ctx, { period: 8 }));
 * ```
 */
export function localSGD(ctx: DistributedContext, options: LocalSgdOptions): LocalSgd {
  if (!Number.isInteger(options.period) || options.period < 1) throw new FitstreamInputError('options.period', `must be an integer ≥ 1 (steps between averagings), got ${String(options.period)}.`);
  const support = new ReplicaSupport('local-sgd', ctx, options);
  let sinceAverage = 0;
  let averagings = 0;
  const average = (control: TrainerControl): void => {
    sinceAverage = 0;
    if (ctx.comm.size === 1) return;
    averagings += 1;
    withFlatWeights(control, (flat) => {
      // One more value carries the stop flags: any replica's stop stops all after this averaging.
      const buf = new Float32Array(flat.length + 1);
      buf.set(flat);
      buf[flat.length] = control.stopRequested ? ctx.comm.size : 0;
      ctx.comm.allreduce(buf, 'avg');
      support.followStop(buf[flat.length]! > 0);
      return buf.subarray(0, flat.length);
    });
  };
  return {
    name: 'local-sgd',
    get averagings() {
      return averagings;
    },
    register(container: PluginRegistry) {
      support.register(
        container,
        () => sinceAverage,
        (s) => {
          if (typeof s === 'number') sinceAverage = s;
        },
      );
    },
    attach(events$: Observable<TrainerEvent>, control: TrainerControl): Subscription {
      const subscriptions = support.attach(events$, control);
      subscriptions.add(
        events$.pipe(ofType('step:end')).subscribe(() => {
          sinceAverage += 1;
          if (sinceAverage >= options.period) average(control);
        }),
      );
      subscriptions.add(
        events$.pipe(ofType('epoch:end')).subscribe(() => {
          if (sinceAverage > 0) average(control);
        }),
      );
      return subscriptions;
    },
  };
}
