import * as tf from '@tensorflow/tfjs';
import { GradientTransform, provide, type PluginRegistry, type Gradients, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import type { Observable, Subscription } from 'rxjs';
import type { DistributedContext } from '../init.js';
import { ReplicaSupport, type ReplicaOptions } from './common.js';
import { checkSameLayout, layoutOf, type Layout } from './weights.js';

/** Options of {@link dataParallel}. */
export interface DataParallelOptions extends ReplicaOptions {
  /** Gradients are fused into buckets of at most this many bytes, one all-reduce each (default 25 MiB, PyTorch DDP's). */
  readonly bucketBytes?: number;
  /**
   * Split the fit's validation across the replicas (default `true`, with `averageMetrics`): every replica passes the same
   * validation data and scores its share of each batch; the group's means equal one replica scoring every row, in 1/k of
   * the time. `false` when each replica passes its own part (`evaluationShard`) or only some replicas validate; a fit
   * that shards while the replicas pass different data fails at the first validated epoch, saying so.
   */
  readonly shardValidation?: boolean;
}

/** Counters of a {@link DataParallel} plugin. */
export interface DataParallelStats {
  /** Optimizer steps whose gradients were all-reduced. */
  readonly steps: number;
  readonly buckets: number;
  /** Floats reduced per step. */
  readonly values: number;
  /** Milliseconds spent in all-reduce (including waiting for peers), over all steps. */
  readonly allreduceMs: number;
  /** Updates every replica skipped because one of them skipped it before the reduction (a `pre-reduce` guard). */
  readonly skipped: number;
}

/** The plugin {@link dataParallel} returns. */
export interface DataParallel extends Plugin {
  readonly stats: DataParallelStats;
}

interface Bucket {
  readonly names: readonly string[];
  readonly offsets: readonly number[];
  readonly header: number;
  readonly buffer: Float32Array;
}

/**
 * Synchronous data-parallel SGD (PyTorch DDP, Horovod): every replica computes gradients on its shard of each global
 * batch, gradients are fused into buckets and all-reduced as **sums of per-sample gradients divided by the global
 * batch** (core hands each replica the mean over its own samples, so each is multiplied back by `ctx.samples` first),
 * and every replica applies the same update. k replicas × batch b therefore equal one replica × batch k·b, whatever
 * the shards' sizes. Also: rank 0's weights are broadcast when a fit starts, the data is sharded with
 * `distributed(sampler)`, a stop on any replica stops all of them after the same step, and epoch metrics are averaged
 * across replicas before `epoch:end` (every rank and plugin sees the group's metrics; also `distributed:epochEnd`).
 *
 * Guards that skip updates (`lossSpikeGuard`, `terminateOnNaN`, `skipNonFiniteGradients`) work in either stage: in
 * `post-reduce` every replica sees the same gradients and skips together; in `pre-reduce`, a replica that skips still
 * joins the all-reduce (core calls the reducer's `skipped`) and every replica skips that update with it.
 *
 * @example
 * ```ts
 * const ctx = await init();
 * trainer.use(dataParallel(ctx, { lr: { scaling: 'linear', warmupEpochs: 5 } }));
 * await trainer.fit({ x, y }, { epochs: 10, batchSize: 32 }); // 32 per replica
 * ```
 */
export function dataParallel(ctx: DistributedContext, options: DataParallelOptions = {}): DataParallel {
  const support = new ReplicaSupport('data-parallel', ctx, options);
  // The replicas hold the same weights, so k replicas need not each score every validation row.
  if (options.shardValidation ?? true) support.shardValidation();
  const bucketValues = Math.max(1, Math.floor((options.bucketBytes ?? 25 * 2 ** 20) / 4));
  const stats = { steps: 0, skipped: 0, buckets: 0, values: 0, allreduceMs: 0 };
  let layout: Layout | undefined;
  let buckets: Bucket[] = [];

  const plan = (grads: Gradients): void => {
    layout = layoutOf(grads);
    checkSameLayout(ctx.comm, layout, 'dataParallel');
    buckets = [];
    let names: string[] = [];
    let offsets: number[] = [];
    let fill = 3; // the first bucket carries [samples, stop flag, replicas that skip this update]
    let header = 3;
    const close = () => {
      buckets.push({ names, offsets, header, buffer: ctx.comm.alloc(fill) });
      names = [];
      offsets = [];
      fill = 0;
      header = 0;
    };
    layout.names.forEach((name, i) => {
      const size = layout!.sizes[i]!;
      if (names.length > 0 && fill + size > bucketValues) close();
      names.push(name);
      offsets.push(fill);
      fill += size;
    });
    close();
    stats.buckets = buckets.length;
    stats.values = layout.length;
  };

  /**
   * All-reduces `grads` (sums over samples) with the peers. `grads` is `undefined` on a replica whose update an earlier
   * transform skipped: it still joins every all-reduce (with zeros) so that no peer waits for it, and when any replica
   * skipped, every replica skips (returns `null`) — the replicas' weights never diverge.
   */
  const reduce = (grads: Gradients | undefined, samples: number, variables: readonly tf.Variable[]): Gradients | null => {
    const shapes: Gradients = grads ?? Object.fromEntries(variables.map((v) => [v.name, v]));
    if (!layout || layout.names.length !== Object.keys(shapes).length || layout.names.some((n) => !shapes[n])) plan(shapes);
    const started = performance.now();
    const out: Record<string, tf.Tensor> = {};
    let total = 0;
    let skipping = 0;
    for (const bucket of buckets) {
      const buf = bucket.buffer;
      if (bucket.names.length > 0) {
        if (grads) {
          // One device read per bucket (the bucket's gradients, flattened), turned back into sums over samples here: a
          // pass over the floats already in memory instead of one more tensor op and buffer per step.
          const flat = bucket.names.length === 1 ? grads[bucket.names[0]!]! : tf.tidy(() => tf.concat(bucket.names.map((n) => tf.reshape(grads[n]!, [-1]))));
          const values = flat.dataSync() as Float32Array;
          if (flat !== grads[bucket.names[0]!]) flat.dispose();
          const h = bucket.header;
          for (let i = 0; i < values.length; i++) buf[h + i] = values[i]! * samples;
        } else {
          buf.fill(0, bucket.header);
        }
      }
      if (bucket.header) {
        buf[0] = grads ? samples : 0;
        buf[1] = support.control?.stopRequested ? 1 : 0;
        buf[2] = grads ? 0 : 1;
      }
      ctx.comm.allreduce(buf, 'sum');
      if (bucket.header) {
        total = buf[0]!;
        support.followStop(buf[1]! > 0);
        skipping = buf[2]!;
      }
      if (skipping > 0) continue;
      bucket.names.forEach((name, i) => {
        const g = shapes[name]!;
        const start = bucket.offsets[i]!;
        // Sum over the group's samples ÷ their number, written straight into the new gradient's values.
        const mean = new Float32Array(g.size);
        for (let j = 0; j < mean.length; j++) mean[j] = buf[start + j]! / total;
        out[name] = tf.tensor(mean, g.shape);
      });
    }
    stats.allreduceMs += performance.now() - started;
    if (skipping > 0) {
      tf.dispose(Object.values(out));
      stats.skipped += 1;
      return null;
    }
    stats.steps += 1;
    return out;
  };

  return {
    name: 'data-parallel',
    stats,
    register(container: PluginRegistry) {
      support.register(container);
      provide(container, GradientTransform, {
        name: 'data-parallel',
        stage: 'reduce',
        transform: (grads, gctx) => (ctx.comm.size === 1 ? grads : reduce(grads, gctx.samples, gctx.variables)),
        skipped: (gctx) => {
          if (ctx.comm.size > 1) reduce(undefined, 0, gctx.variables);
        },
      });
    },
    attach(events$: Observable<TrainerEvent>, control: TrainerControl): Subscription {
      return support.attach(events$, control);
    },
  };
}
