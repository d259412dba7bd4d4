import {
  EpochMetricsReducer,
  LearningRateModifier,
  StateProvider,
  ofType,
  provide,
  type EpochMetricsContext,
  type Json,
  type LearningRatePosition,
  type Plugin,
  type PluginRegistry,
  type TrainerControl,
  type TrainerEvent,
} from '@fitstream/core';
import { distributed, shuffleSampler, type SamplerPlugin } from '@fitstream/samplers';
import { Subscription, type Observable } from 'rxjs';
import type { Communicator } from '../comm/communicator.js';
import { PeerLostError } from '../errors.js';
import type { DistributedContext } from '../init.js';
import { hasWarmup, learningRateScaleAt, planLearningRate, type LrPlan, type LrScalingOptions } from './lr-scaling.js';
import { broadcastWeights } from './weights.js';
import { groupSession, guardCheckpointWrites } from './checkpoint-guard.js';
import { ValidationShard } from './validation-shard.js';

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface TrainerEventMap<M extends string = string> {
    /** Epoch metrics averaged over all replicas (sample-weighted), published on every rank. */
    'distributed:epochEnd': {
      readonly epoch: number;
      readonly step: number;
      readonly learningRate: number;
      readonly worldSize: number;
      /** Training samples of the epoch over all replicas. */
      readonly samples: number;
      readonly metrics: Readonly<Record<string, number>>;
    };
    /**
     * The learning-rate rule in force (linear scaling and warm-up), once per fit, with the fit's first `epoch:start`:
     * `learningRate` is the rate of the fit's first update (the base schedule × every modifier, this rule included).
     */
    'distributed:learningRatePlan': { readonly epoch: number; readonly step: number; readonly learningRate: number; readonly baseLr: number; readonly target: number; readonly warmupSteps: number; readonly text: string };
  }
}

/** Options every data-parallel algorithm takes. */
export interface ReplicaOptions {
  /**
   * The sampler whose epochs are sharded across replicas with `@fitstream/samplers`' `distributed` (default
   * `shuffleSampler()`); `false` when you shard the data yourself.
   */
  readonly sampler?: SamplerPlugin | false;
  /** Pad each epoch to a multiple of the world size (default `true`, PyTorch `drop_last=False`); see `distributed`. */
  readonly pad?: boolean;
  /**
   * Linear LR scaling with gradual warm-up (Goyal et al.); default off. `true` means `{ scaling: 'linear' }`. A modifier
   * of core's learning-rate pipeline (stage `'scale'`): it multiplies any base schedule (`cosineDecay`, …) by the
   * replica factor, ramped up over the warm-up; with a warm-up it refuses a second warm-up (`warmup(…)`, one-cycle).
   */
  readonly lr?: LrScalingOptions | boolean;
  /** Copy rank 0's weights to every replica when a fit starts (default `true`). */
  readonly broadcastInitialWeights?: boolean;
  /**
   * Average epoch metrics across replicas, sample-weighted (default `true`): every rank's `epoch:end` events, history
   * and the plugins deciding on them (early stopping, LR on plateau, best checkpoints) see the group's metrics, also
   * published as `distributed:epochEnd`. `val_*` metrics are weighted by each rank's validation samples, so ranks may
   * validate disjoint shards (`evaluationShard`) or only some ranks may validate. `false`: each rank keeps its own.
   */
  readonly averageMetrics?: boolean;
  /** Fail the group when this replica's fit fails, so peers stop at once (default `true`). */
  readonly abortOnError?: boolean;
  /** Rank-0 log lines (the LR plan, averaged epoch metrics). Default: `ctx.log`; `null` for none. */
  readonly log?: ((line: string) => void) | null;
}

/** The parts every algorithm shares: sharded sampler, LR rule, initial broadcast, metric averaging, failure. */
export class ReplicaSupport {
  readonly sampler: SamplerPlugin | undefined;
  readonly lrOptions: LrScalingOptions | undefined;
  /** This fit's learning-rate plan, resolved at `fit:start` (the per-replica batch is known then). */
  plan: LrPlan | undefined;
  /** The run's base rate as core's pipeline last gave it (what the rule scales). */
  private initialLr: number | undefined;
  control: TrainerControl | undefined;
  /** Training samples of the last averaged epoch over all replicas. */
  private groupSamples = 0;
  /** Set by {@link shardValidation}: each replica validates its share of every validation batch. */
  private validationShard: ValidationShard | undefined;

  constructor(
    readonly name: string,
    readonly ctx: DistributedContext,
    readonly options: ReplicaOptions,
  ) {
    const inner = options.sampler === undefined ? shuffleSampler() : options.sampler;
    this.sampler = inner === false ? undefined : distributed(inner, { rank: ctx.rank, worldSize: ctx.worldSize, ...(options.pad === undefined ? {} : { pad: options.pad }) });
    this.lrOptions = options.lr === true ? {} : options.lr === false || options.lr === undefined ? undefined : options.lr;
  }

  get comm(): Communicator {
    return this.ctx.comm;
  }

  log(line: string): void {
    if (this.options.log === null) return;
    if (this.options.log) {
      if (this.ctx.isMain) this.options.log(line);
    } else this.ctx.log(line);
  }

  /**
   * Splits the fit's validation across the replicas (every replica must hold the same weights: synchronous data
   * parallelism). Only with metric averaging, which turns the replicas' shares back into the group's means.
   */
  shardValidation(): void {
    if (this.options.averageMetrics ?? true) this.validationShard = new ValidationShard(this.comm, this.name);
  }

  register(container: PluginRegistry, extraState: () => Json = () => null, restoreExtra: (state: Json) => void = () => undefined): void {
    this.sampler?.register(container);
    this.validationShard?.register(container);
    if (this.options.averageMetrics ?? true) provide(container, EpochMetricsReducer, { name: `${this.name} (metric averaging)`, reduce: (logs, c) => this.averageLogs(logs, c) });
    const lr = this.lrOptions;
    if (lr) {
      provide(container, LearningRateModifier, { name: `${this.name} (linear LR scaling)`, stage: 'scale', shapesWarmup: hasWarmup(lr), factor: (p) => this.learningRateScale(lr, p) });
    }
    // The base rate the rule scales is core's (the run's initial rate, in its checkpoints); this keeps the algorithm's own.
    provide(container, StateProvider, {
      key: this.name,
      getState: () => ({ extra: extraState() }),
      setState: (s) => {
        const state = s as { extra?: Json } | null;
        if (state && state.extra !== undefined) restoreExtra(state.extra);
      },
    });
  }

  /**
   * The rule's factor on the rate of the update at `p`. Core asks once before `fit:start`, when only a plan that needs no
   * batch size can be made (no `baseBatchSize`: the factor is the world size); from `fit:start` on, this fit's plan.
   */
  private learningRateScale(options: LrScalingOptions, p: LearningRatePosition): number {
    this.initialLr = p.initialLr;
    const plan =
      this.plan ??
      (options.baseBatchSize === undefined
        ? planLearningRate(options, { baseLr: p.initialLr, worldSize: this.ctx.worldSize, perReplicaBatch: 1, batchesPerEpoch: p.stepsPerEpoch })
        : undefined);
    return plan ? learningRateScaleAt(plan, p.step) : 1;
  }

  /**
   * The group's epoch logs: per metric, Σ value·samples / Σ samples over the replicas in one all-reduce, in a layout
   * fixed by the metric names (the same on every rank), so that a rank that did not validate this epoch takes part with
   * weight 0 instead of sending a shorter buffer.
   */
  private averageLogs(logs: Readonly<Record<string, number>>, c: EpochMetricsContext): Record<string, number> {
    if (this.comm.size === 1) {
      this.groupSamples = c.samples;
      return { ...logs };
    }
    this.validationShard?.check(c.epoch, c.validationSamples > 0);
    const names = c.metricNames;
    const buf = new Float32Array(names.length * 4);
    names.forEach((name, i) => {
      const validated = logs[`val_${name}`];
      buf.set([logs[name]! * c.samples, c.samples, validated === undefined ? 0 : validated * c.validationSamples, validated === undefined ? 0 : c.validationSamples], 4 * i);
    });
    this.comm.allreduce(buf, 'sum');
    const out: Record<string, number> = {};
    names.forEach((name, i) => {
      out[name] = buf[4 * i + 1]! > 0 ? buf[4 * i]! / buf[4 * i + 1]! : logs[name]!;
      if (buf[4 * i + 3]! > 0) out[`val_${name}`] = buf[4 * i + 2]! / buf[4 * i + 3]!;
    });
    this.groupSamples = buf[1] ?? c.samples;
    return out;
  }

  /** Subscriptions common to all algorithms; `onStart` runs at `fit:start` after the weights were broadcast. */
  attach(events$: Observable<TrainerEvent>, control: TrainerControl, samplerPlugin: Plugin | undefined = this.sampler): Subscription {
    this.control = control;
    const subscriptions = new Subscription();
    const samplerTeardown = samplerPlugin?.attach?.(events$, control);
    if (samplerTeardown) subscriptions.add(samplerTeardown);
    if (this.options.broadcastInitialWeights ?? true) broadcastWeights(this.comm, control, 0);
    if (this.comm.size > 1) {
      // Checkpoint writes into a directory another rank writes are refused before they collide (rank 0 writes, all read).
      const release = guardCheckpointWrites(control, this.ctx.rank, groupSession(this.comm), this.name);
      subscriptions.add(events$.pipe(ofType('fit:end')).subscribe(() => release()));
    }
    this.plan = undefined;
    const lr = this.lrOptions;
    if (lr) {
      let announce = false;
      subscriptions.add(
        events$.pipe(ofType('fit:start')).subscribe((e) => {
          // Warm-up epochs count optimizer steps, as core's pipeline does.
          const stepsPerEpoch = e.batchesPerEpoch === undefined ? undefined : Math.ceil(e.batchesPerEpoch / e.accumulateBatches);
          this.plan = planLearningRate(lr, { baseLr: this.initialLr ?? e.learningRate, worldSize: this.ctx.worldSize, perReplicaBatch: e.batchSize * e.accumulateBatches, batchesPerEpoch: stepsPerEpoch });
          this.log(this.plan.text);
          announce = true;
        }),
      );
      subscriptions.add(
        events$.pipe(ofType('epoch:start')).subscribe((e) => {
          const plan = this.plan;
          if (!announce || !plan) return;
          announce = false;
          control.emit('distributed:learningRatePlan', { epoch: e.epoch, step: e.step, learningRate: e.learningRate, baseLr: plan.baseLr, target: plan.target, warmupSteps: plan.warmupSteps, text: plan.text });
        }),
      );
      subscriptions.add(
        events$.pipe(ofType('step:end')).subscribe((e) => {
          if (this.plan && this.plan.warmupSteps > 0 && e.step === this.plan.warmupSteps) this.log(`warm-up done: learning rate ${Number(this.plan.target.toPrecision(6))}`);
        }),
      );
    }
    if (this.options.averageMetrics ?? true) {
      subscriptions.add(
        events$.pipe(ofType('epoch:end')).subscribe((e) => {
          // The core already replaced the logs by the group's (the EpochMetricsReducer above).
          const metrics = e.metrics as Readonly<Record<string, number>>;
          const names = Object.keys(metrics).sort();
          control.emit('distributed:epochEnd', { epoch: e.epoch, step: e.step, learningRate: e.learningRate, worldSize: this.ctx.worldSize, samples: this.groupSamples, metrics: { ...metrics } });
          this.log(`epoch ${e.epoch + 1}: ${names.map((n) => `${n} ${metrics[n]!.toPrecision(4)}`).join(', ')} (mean of ${this.ctx.worldSize} replicas, ${this.groupSamples} samples)`);
        }),
      );
    }
    // A stop asked for on one replica (a signal, a time budget, early stopping on local metrics) must stop all of them
    // after the same step. Stops are exchanged once every subscriber of the step (or epoch) has run — in a microtask
    // the loop waits for — so that stops requested by plugins subscribed after this one are seen too.
    const exchangeStops = () => {
      if (this.comm.size === 1) return;
      control.await(
        Promise.resolve().then(() => {
          const flag = Float32Array.of(control.stopRequested ? 1 : 0);
          this.comm.allreduce(flag, 'sum');
          this.followStop(flag[0]! > 0);
        }),
      );
    };
    subscriptions.add(events$.pipe(ofType('step:end')).subscribe(exchangeStops));
    subscriptions.add(events$.pipe(ofType('epoch:end')).subscribe(exchangeStops));
    subscriptions.add(
      events$.pipe(ofType('fit:end')).subscribe((e) => {
        if (e.reason !== 'error' || !(this.options.abortOnError ?? true) || this.comm.size === 1) return;
        if (e.error?.name === 'PeerLostError') return; // a victim, not the cause
        this.comm.abort(new Error(`rank ${this.ctx.rank}'s fit failed: ${e.error ? `${e.error.name}: ${e.error.message}` : 'unknown error'}`));
      }),
    );
    return subscriptions;
  }

  /** After a collective that carried this replica's stop flag: stop with the others. */
  followStop(anyStopped: boolean): void {
    const control = this.control;
    if (anyStopped && control && !control.stopRequested) control.stop('a peer replica stopped the fit');
  }
}

export { PeerLostError };
