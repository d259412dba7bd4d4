import { FitstreamInputError, ofType, type PluginRegistry, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import type { Observable, Subscription } from 'rxjs';
import type { DistributedContext } from '../init.js';
import { ReplicaSupport, type ReplicaOptions } from './common.js';
import { flatten, fromBase64, layoutOf, toBase64, withFlatWeights } from './weights.js';
import * as tf from '@tensorflow/tfjs';

/** Options of {@link easgd}. */
export interface EasgdOptions extends ReplicaOptions {
  /** Elastic coefficient α (moving rate). Default `0.9 / worldSize` (β = Nα = 0.9, Zhang et al.'s choice). */
  readonly alpha?: number;
  /** Communication period τ in optimizer steps (default 1). */
  readonly tau?: number;
  /** Weights the model holds when the fit ends: the centre variable (default) or this replica's own. */
  readonly finalWeights?: 'centre' | 'replica';
}

/** The plugin {@link easgd} returns. */
export interface Easgd extends Plugin {
  /** A copy of the centre variable x̃ (identical on every rank), flat in the order of the sorted weight names. */
  centre(): Float32Array | undefined;
}

/**
 * One synchronous elastic-averaging round (Zhang, Choromanska & LeCun 2015, eqs. 5–6) with the old centre x̃:
 * `x_i ← x_i − α(x_i − x̃)` and `x̃ ← x̃ + α Σ_j (x_j − x̃) = x̃ + α(s − N·x̃)` where `s = Σ_j x_j` (one all-reduce).
 * Mutates `replica` and `centre`.
 */
export function elasticUpdate(replica: Float32Array, centre: Float32Array, sum: Float32Array, alpha: number, worldSize: number): void {
  for (let i = 0; i < replica.length; i++) {
    const c = centre[i]!;
    replica[i] = replica[i]! - alpha * (replica[i]! - c);
    centre[i] = c + alpha * (sum[i]! - worldSize * c);
  }
}

/**
 * Synchronous EASGD: replicas explore on their own shards and are pulled every τ steps towards a centre variable
 * that every rank keeps an identical copy of (no parameter server). The centre is saved in checkpoints, and is the
 * model when the fit ends (`finalWeights`).
 *
 * @example
 * ```ts
 * trainer.use(easgd(ctx, { tau: 4 })); // α = 0.9 / worldSize
 * ```
 */
export function easgd(ctx: DistributedContext, options: EasgdOptions = {}): Easgd {
  const tau = options.tau ?? 1;
  const alpha = options.alpha ?? 0.9 / ctx.worldSize;
  if (!Number.isInteger(tau) || tau < 1) throw new FitstreamInputError('options.tau', `must be an integer ≥ 1, got ${String(tau)}.`);
  if (!(alpha > 0) || alpha * ctx.worldSize >= 1 + 1e-9) throw new FitstreamInputError('options.alpha', `must be in (0, 1/worldSize) for a stable centre (β = Nα < 1), got ${String(alpha)} with ${ctx.worldSize} replicas.`);
  const support = new ReplicaSupport('easgd', ctx, options);
  let centre: Float32Array | undefined;
  let since = 0;
  const round = (control: TrainerControl): void => {
    since = 0;
    withFlatWeights(control, (flat) => {
      const buf = new Float32Array(flat.length + 1);
      buf.set(flat);
      buf[flat.length] = control.stopRequested ? 1 : 0;
      ctx.comm.allreduce(buf, 'sum');
      support.followStop(buf[flat.length]! > 0);
      centre ??= Float32Array.from(flat);
      elasticUpdate(flat, centre, buf, alpha, ctx.worldSize);
      return flat;
    });
  };
  return {
    name: 'easgd',
    centre: () => (centre ? Float32Array.from(centre) : undefined),
    register(container: PluginRegistry) {
      support.register(
        container,
        () => ({ since, centre: centre ? toBase64(centre) : null }),
        (s) => {
          const state = s as { since?: number; centre?: string | null } | null;
          since = state?.since ?? 0;
          centre = state?.centre ? fromBase64(state.centre) : undefined;
        },
      );
    },
    attach(events$: Observable<TrainerEvent>, control: TrainerControl): Subscription {
      const subscriptions = support.attach(events$, control);
      if (!centre) {
        // The centre starts at the (broadcast) initial weights.
        const snapshot = control.snapshotWeights();
        centre = flatten(layoutOf(snapshot), snapshot);
        tf.dispose([...snapshot.values()]);
      }
      subscriptions.add(
        events$.pipe(ofType('step:end')).subscribe(() => {
          since += 1;
          if (since >= tau) round(control);
        }),
      );
      subscriptions.add(
        events$.pipe(ofType('fit:end')).subscribe((e) => {
          if (e.reason === 'error' || (options.finalWeights ?? 'centre') !== 'centre' || !centre) return;
          const c = centre;
          withFlatWeights(control, () => Float32Array.from(c));
        }),
      );
      return subscriptions;
    },
  };
}
