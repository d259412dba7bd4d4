import * as tf from '@tensorflow/tfjs';
import { createLazyValues, type LazyMetrics } from '../events/lazy-metrics.js';
import { alignOptimizerSlots } from '@fitstream/optimizers';
import type { Batch, StepContext } from '../plugin/plugin-points.js';
import { disposeBatch, validateBatch } from './data.js';
import { EpochAggregate } from './epoch-aggregate.js';
import { batchSizeOf } from './heads.js';
import type { PreparedFit } from './fit-prepare.js';
import type { FitSteering } from './fit-steering.js';
import { GradientAccumulator, applyUpdate, forwardBackward } from './step-pipeline.js';
import { runTrainStep, type StepParts } from './train-step.js';
import type { TrainerCore } from './trainer-core.js';

/** The lazy metrics of the last batch, released when the next batch ends (or the epoch). */
interface HeldMetrics<M extends string> {
  release(): void;
  readonly tensor: tf.Tensor1D;
  readonly metrics: LazyMetrics<M>;
}

/** One epoch's reading position: batches read, and the index of the last one. */
interface EpochCursor {
  readonly epoch: number;
  readonly cap: number;
  consumed: number;
  lastIndex: number;
}

/**
 * The train-batches phase: turns batches into optimizer steps. Owns what lives between batches: the trained variables
 * (re-read at step boundaries, so freezing takes effect at the next step), the gradient accumulator and its batches'
 * metric sums, and the last batch's lazy metrics.
 *
 * `position.batch` counts the batches whose update is in the weights; the cursor's `consumed` the batches read. They
 * differ only inside an accumulation group, whose batches reach the epoch sums and the position together when its step
 * is applied, so a checkpoint or an error backup is always consistent.
 */
export class StepAssembly<M extends string> {
  private variables: tf.Variable[] = [];
  private aligned = false;
  private readonly accumulator = new GradientAccumulator();
  private readonly groupAggregate: EpochAggregate;
  private held: HeldMetrics<M> | undefined;

  constructor(
    private readonly core: TrainerCore<M>,
    private readonly prepared: PreparedFit,
    private readonly steering: FitSteering<M>,
  ) {
    this.groupAggregate = new EpochAggregate(core.metricNames.length);
  }

  /**
   * Reads the trained variables again. tfjs optimizers index their slots by position, so a change of the set realigns
   * them by name: variables that stay trainable keep their moments.
   */
  refreshVariables(): void {
    const next = this.core.model.trainableVariables();
    if (next.length === 0) throw new Error(`${this.core.model.label} has no trainable variables; unfreeze at least one layer.`);
    // The same variables in the same order (every step but a freeze change): nothing to realign.
    const same = this.aligned && next.length === this.variables.length && next.every((v, i) => v === this.variables[i]);
    if (!same) alignOptimizerSlots(this.core.optimizer, next.map((v) => v.name));
    this.aligned = true;
    this.variables = next;
  }

  /** Trains the epoch's batches (from `position.batch` on); `false` when a stop ended it before its last batch. */
  async trainEpoch(epoch: number, cap: number, checkValues: boolean, updateRate: () => void): Promise<boolean> {
    const { opts, train } = this.prepared;
    const skip = this.prepared.position.batch;
    const cursor: EpochCursor = { epoch, cap, consumed: skip, lastIndex: skip - 1 };
    if (cursor.consumed < cap) {
      const source = train.batches(opts.overfitBatches ? 0 : epoch, skip);
      for await (const batch of source.batches) {
        let stopped: boolean;
        try {
          if (train.kind === 'stream') validateBatch(batch, this.prepared.expect, 'data', checkValues);
          stopped = this.core.trainStep ? await this.trainCustomStep(batch, cursor, updateRate) : await this.trainBatch(batch, cursor, updateRate);
        } finally {
          if (source.owned) disposeBatch(batch);
        }
        if (stopped) return cursor.consumed >= cap;
        if (cursor.consumed >= cap) break;
      }
    }
    // A stream that ended inside an accumulation group still applies what it accumulated.
    if (this.accumulator.batches > 0 && this.held) {
      const samples = this.accumulator.samples;
      await this.finishStep(this.accumulator.take(), this.context(epoch, cursor.lastIndex), this.held.tensor, this.held.metrics, samples, cursor);
    }
    return true;
  }

  /** One batch forward and backward; a step when its accumulation group is complete. Returns whether the fit stopped. */
  private async trainBatch(batch: Batch, cursor: EpochCursor, updateRate: () => void): Promise<boolean> {
    const { opts, step: plugins } = this.prepared;
    const index = cursor.consumed;
    const size = batchSizeOf(batch.y);
    // Trainability and the rate may change at any step boundary (fine-tuning, schedules); never inside a group.
    if (this.accumulator.batches === 0) {
      this.refreshVariables();
      updateRate();
    }
    this.steering.stepOpen = true;
    this.core.emit('batch:start', { ...this.loopPosition(), batch: index, size });
    await this.steering.boundary(false);
    const ctx = this.context(cursor.epoch, index);
    const result = forwardBackward(batch, ctx, { model: this.core.model, variables: this.variables, heads: this.core.heads, plugins });
    const single = opts.accumulateBatches === 1;
    if (!single) {
      this.groupAggregate.add(result.metrics, size);
      this.accumulator.add(result.grads, size);
      tf.dispose(Object.values(result.grads));
    }
    const lazy = this.hold(result.metrics, cursor.epoch, index);
    cursor.consumed += 1;
    cursor.lastIndex = index;
    this.core.emit('batch:end', { ...this.loopPosition(), batch: index, size, metrics: lazy });
    if (single) {
      await this.finishStep(result.grads, ctx, result.metrics, lazy, size, cursor);
    } else if (this.accumulator.batches >= opts.accumulateBatches || cursor.consumed >= cursor.cap) {
      const samples = this.accumulator.samples;
      await this.finishStep(this.accumulator.take(), ctx, result.metrics, lazy, samples, cursor);
    } else {
      await this.steering.boundary(false);
      return false;
    }
    return this.steering.stopReason !== undefined;
  }

  /**
   * One step of the user's `trainStep`: its updates happen inside (one batch per step); the loop's bookkeeping — events,
   * epoch sums, position, boundaries — is the same as the default step's. Returns whether the fit stopped.
   */
  private async trainCustomStep(batch: Batch, cursor: EpochCursor, updateRate: () => void): Promise<boolean> {
    const index = cursor.consumed;
    const size = batchSizeOf(batch.y);
    updateRate();
    this.steering.stepOpen = true;
    this.core.emit('batch:start', { ...this.loopPosition(), batch: index, size });
    await this.steering.boundary(false);
    const ctx = this.context(cursor.epoch, index);
    const metrics = runTrainStep(this.core.trainStep!, batch, ctx, this.stepParts(), this.core.metricNames);
    const lazy = this.hold(metrics, cursor.epoch, index);
    cursor.consumed += 1;
    cursor.lastIndex = index;
    this.core.emit('batch:end', { ...this.loopPosition(), batch: index, size, metrics: lazy });
    this.prepared.aggregate.add(metrics, size);
    await this.completeStep(index, size, false, lazy, cursor);
    return this.steering.stopReason !== undefined;
  }

  /** What a custom step runs with: every model and optimizer, and the update plugins. */
  stepParts(): StepParts {
    const { step: plugins } = this.prepared;
    return {
      models: this.core.models,
      optimizers: new Map(this.core.optimizers.map((o) => [o.name, o.optimizer])),
      gradientTransforms: plugins.gradientTransforms,
      learningRateMultipliers: plugins.learningRateMultipliers,
      weightConstraints: plugins.weightConstraints,
    };
  }

  /** The update of one step: gradient transforms, optimizer, constraints; then the position moves. */
  private async finishStep(grads: tf.NamedTensorMap, ctx: StepContext, metrics: tf.Tensor1D, lazy: LazyMetrics<M>, samples: number, cursor: EpochCursor): Promise<void> {
    const { opts, aggregate, step: plugins } = this.prepared;
    const applied = applyUpdate(grads, ctx, { optimizer: this.core.optimizer, variables: this.variables, plugins, metrics, samples });
    tf.dispose(Object.values(grads));
    if (opts.accumulateBatches === 1) aggregate.add(metrics, samples);
    else aggregate.absorb(this.groupAggregate);
    await this.completeStep(ctx.batch, samples, !applied, lazy, cursor);
  }

  /** The step is in the weights: the position moves, `step:end` is published, plugins get their boundary. */
  private async completeStep(batch: number, samples: number, skipped: boolean, lazy: LazyMetrics<M>, cursor: EpochCursor): Promise<void> {
    const { position } = this.prepared;
    position.batch = cursor.consumed;
    position.step += 1;
    this.steering.stepOpen = false;
    const factors = this.core.lr.current.factors;
    this.core.emit('step:end', { ...this.loopPosition(), learningRateFactors: factors, batch, samples, skipped, metrics: lazy });
    await this.steering.boundary(true);
  }

  private context(epoch: number, batch: number): StepContext {
    const { position } = this.prepared;
    return { epoch, batch, step: position.step, learningRate: this.core.learningRate, training: true, random: this.core.random.derive('step', epoch, batch) };
  }

  /** Makes the batch's metrics lazy values, releasing the previous batch's. */
  private hold(tensor: tf.Tensor1D, epoch: number, batch: number): LazyMetrics<M> {
    this.releaseLazy();
    const lazy = createLazyValues(this.core.metricNames, tensor, `the metrics of epoch ${epoch} batch ${batch}`);
    this.held = { release: lazy.release, tensor, metrics: lazy.values };
    return lazy.values;
  }

  releaseLazy(): void {
    if (!this.held) return;
    this.held.release();
    this.held.tensor.dispose();
    this.held = undefined;
  }

  /** Drops a half-accumulated step (a failed fit). */
  disposeAccumulation(): void {
    this.accumulator.dispose();
    this.groupAggregate.dispose();
  }

  dispose(): void {
    this.releaseLazy();
    this.disposeAccumulation();
  }

  private loopPosition() {
    const { position } = this.prepared;
    return { epoch: position.epoch, step: position.step, learningRate: this.core.learningRate };
  }
}
