import { Subscription } from 'rxjs';
import { explainMissingKernel } from '@fitstream/backends';
import { writeSnapshot, type CheckpointInfo } from '@fitstream/checkpoint';
import { serializeError, type FitEndReason, type History } from '../events/event-map.js';
import type { EpochLogs } from '../events/metric-names.js';
import type { LearningRateValue } from '../learning-rate/learning-rate-pipeline.js';
import type { DataSource } from './data.js';
import { overfitValidation, runValidation } from './evaluation.js';
import { FitstreamInputError } from '@fitstream/util';
import { effectiveBatches, type FitOptions } from './fit-options.js';
import { prepareFit, type PreparedFit } from './fit-prepare.js';
import { disposedWeight } from '../model/model.js';
import { FitSteering } from './fit-steering.js';
import { freezeHistory, recordEpoch } from './history.js';
import { StepAssembly } from './step-assembly.js';
import type { TrainerCore } from './trainer-core.js';

/** What `fit` resolves to. */
export interface FitResult<M extends string = string> {
  readonly history: History<M>;
  readonly reason: Exclude<FitEndReason, 'error'>;
  readonly stopReason: string | undefined;
  /** Epochs completed in this fit. */
  readonly epochs: number;
  /** Global step at the end. */
  readonly step: number;
  /** Last epoch's logs. */
  readonly final: EpochLogs<M> | undefined;
  readonly backend: string;
  readonly seed: number | string;
}

/** Prepares and runs one fit: prepare → epochs (plan, train batches, validate, end) → finish. */
export async function runFit<M extends string>(core: TrainerCore<M>, data: DataSource, options: FitOptions, onEnd: (run: FitRun<M>) => void): Promise<FitResult<M>> {
  const run = new FitRun(core, await prepareFit(core, data, options));
  try {
    return await run.run();
  } finally {
    onEnd(run);
  }
}

/**
 * One fit after its prepare phase. Each phase is a method that a reader finds by its name: `start`, `epoch` (which
 * plans the epoch, trains its batches through the {@link StepAssembly}, validates and ends it), `finish`, `fail`.
 * The run's state: the loop position, the history, the epoch's device sums, and the steering (stops, checkpoints).
 */
export class FitRun<M extends string> {
  readonly steering: FitSteering<M>;
  private readonly steps: StepAssembly<M>;
  private readonly subscriptions = new Subscription();
  private epochsRun = 0;
  private final: EpochLogs<M> | undefined;
  /** Optimizer steps per epoch when known, for the learning-rate pipeline (planned again at each epoch start). */
  private stepsPerEpoch: number | undefined;

  constructor(
    private readonly core: TrainerCore<M>,
    readonly prepared: PreparedFit,
  ) {
    this.steering = new FitSteering(core, prepared.opts, prepared.position, (dir, reason) => this.save(dir, reason));
    this.steps = new StepAssembly(core, prepared, this.steering);
  }

  get position() {
    return this.prepared.position;
  }

  get history() {
    return this.prepared.history;
  }

  async run(): Promise<FitResult<M>> {
    const { opts } = this.prepared;
    this.steering.listen();
    try {
      await this.start();
      while (this.position.epoch < opts.epochs && this.steering.stopReason === undefined) {
        if (!(await this.epoch())) break;
      }
      return await this.finish();
    } catch (thrown) {
      // A gradient kernel that stock tfjs-backend-wasm lacks: say which package provides it.
      const error = explainDisposedModel(explainMissingKernel(thrown), this.core, this.position);
      await this.fail(error);
      throw error;
    } finally {
      this.steps.dispose();
      this.prepared.aggregate.dispose();
      this.subscriptions.unsubscribe();
      this.steering.dispose();
    }
  }

  /** The start phase: plugins attach, the first rate is set, `fit:start` is published. */
  private async start(): Promise<void> {
    const { opts, train, resumedFrom } = this.prepared;
    for (const plugin of this.core.plugins) {
      const teardown = plugin.attach?.(this.core.channel.events$, this.steering.control);
      if (teardown) this.subscriptions.add(teardown);
    }
    const batchesPerEpoch = this.planEpoch();
    this.updateRate();
    this.core.emit('fit:start', {
      epochs: opts.epochs,
      initialEpoch: this.position.epoch,
      batchSize: opts.batchSize,
      batchesPerEpoch,
      samples: train.samplesIn(this.position.epoch),
      accumulateBatches: opts.accumulateBatches,
      step: this.position.step,
      learningRate: this.core.learningRate,
      resumedFrom,
    });
    await this.steering.boundary(false);
  }

  /** One epoch: plan, train its batches, validate, end. Returns `false` when the fit stopped inside it. */
  private async epoch(): Promise<boolean> {
    const { opts, aggregate } = this.prepared;
    const epoch = this.position.epoch;
    const started = performance.now();
    if (this.position.batch === 0) aggregate.dispose();
    // The default step trains the main model's trainable variables; a custom step chooses its own.
    if (!this.core.trainStep) this.steps.refreshVariables();
    const batchesPerEpoch = this.planEpoch();
    this.updateRate();
    this.core.emit('epoch:start', { ...this.loopPosition(), batchesPerEpoch });
    await this.steering.boundary(false);
    const checkValues = opts.checkData === 'always' || (opts.checkData === 'first-epoch' && this.epochsRun === 0 && !this.prepared.resumedFrom);
    const completed = await this.steps.trainEpoch(epoch, batchesPerEpoch ?? Number.POSITIVE_INFINITY, checkValues, () => this.updateRate());
    if (!completed) return false;
    if (aggregate.batches === 0) {
      throw new FitstreamInputError('data', `yielded no batches in epoch ${epoch}${epoch > opts.initialEpoch ? '; a one-shot iterator (e.g. a generator object) is exhausted after one epoch: pass a function that returns a fresh stream, or a tf.data.Dataset' : ''}.`);
    }
    const logs = await this.epochLogs(epoch);
    await this.endEpoch(epoch, logs, started);
    return true;
  }

  /** The epoch's training means, validation when due, and the group's logs (an EpochMetricsReducer). */
  private async epochLogs(epoch: number): Promise<Record<string, number>> {
    const { aggregate, points } = this.prepared;
    const names = this.core.metricNames;
    const trainMeans = await aggregate.means();
    let logs: Record<string, number> = {};
    names.forEach((n, i) => (logs[n] = trainMeans[i]!));
    const validated = await this.validate(epoch);
    Object.assign(logs, validated?.logs);
    if (points.epochMetricsReducer) {
      const context = { epoch, step: this.position.step, samples: aggregate.samples, validationSamples: validated?.samples ?? 0, metricNames: names };
      logs = points.epochMetricsReducer.reduce(Object.freeze({ ...logs }), context);
    }
    return logs;
  }

  /** The validate phase: on the validation epochs (every `validationEvery`, the last, and a stopped one). */
  private async validate(epoch: number): Promise<{ logs: Record<string, number>; samples: number } | undefined> {
    const { opts, validation: source, train, validationTransforms } = this.prepared;
    const due = epoch === opts.epochs - 1 || (epoch + 1 - opts.initialEpoch) % opts.validationEvery === 0 || this.steering.stopReason !== undefined;
    if (!source || !due) return undefined;
    const validation = opts.overfitBatches ? overfitValidation(train, opts.overfitBatches) : source;
    this.core.emit('validation:start', { ...this.loopPosition(), batchesPerEpoch: validation.batchesPerEpoch });
    await this.steering.boundary(false);
    const limit = opts.overfitBatches ?? opts.limitValidationBatches;
    const steering = { stopped: () => this.steering.stopReason !== undefined, yieldEveryMs: opts.yieldEveryMs };
    const result = await this.core.withWeightView('evaluation', () => runValidation(this.core, validation, limit, validationTransforms, epoch, steering));
    const logs: Record<string, number> = {};
    this.core.metricNames.forEach((n, i) => (logs[`val_${n}`] = result.means[i]!));
    this.core.emit('validation:end', { ...this.loopPosition(), samples: result.samples, metrics: logs as never });
    await this.steering.boundary(false);
    return { logs, samples: result.samples };
  }

  /** The epoch-end phase: history, position, `epoch:end`. */
  private async endEpoch(epoch: number, logs: Record<string, number>, started: number): Promise<void> {
    const { aggregate, history } = this.prepared;
    const final = Object.freeze(logs) as EpochLogs<M>;
    this.final = final;
    const rate = this.core.lr.current;
    recordEpoch(history, epoch, logs, rate);
    const samples = aggregate.samples;
    const batches = aggregate.batches;
    aggregate.dispose();
    this.steps.releaseLazy();
    this.position.epoch += 1;
    this.position.batch = 0;
    this.epochsRun += 1;
    const durationMs = performance.now() - started;
    this.core.emit('epoch:end', { epoch, step: this.position.step, learningRate: rate.rate, learningRateFactors: rate.factors, samples, batches, durationMs, metrics: final });
    await this.steering.boundary(true);
  }

  /** The finish phase: `fit:end` and the result. */
  private async finish(): Promise<FitResult<M>> {
    const { stopReason } = this.steering;
    const reason = stopReason === undefined ? 'completed' : 'stopped';
    const history = freezeHistory<M>(this.history);
    // The rate in force after the fit is the next update's (a plateau reduction at the last epoch shows, as in Keras), so
    // a run resumed from its last checkpoint ends with the same rate as the uninterrupted one.
    this.updateRate();
    this.core.emit('fit:end', { ...this.loopPosition(), epoch: Math.max(this.position.epoch - 1, 0), reason, stopReason, error: undefined, history });
    await this.steering.boundary(true);
    return { history: freezeHistory(this.history), reason, stopReason, epochs: this.epochsRun, step: this.position.step, final: this.final, backend: this.prepared.backend, seed: this.core.seed };
  }

  /** A failed fit still publishes `fit:end` (so an error backup can be written) and waits for plugins' writes. */
  private async fail(error: unknown): Promise<void> {
    this.steps.disposeAccumulation();
    this.steering.stepOpen = false;
    try {
      this.core.emit('fit:end', { ...this.loopPosition(), reason: 'error', stopReason: this.steering.stopReason, error: serializeError(error), history: freezeHistory(this.history) });
    } catch {
      /* the original error is what matters */
    }
    await this.steering.settle();
  }

  /** Writes a checkpoint of this moment: weights (or the weight view), optimizer, position, epoch sums, plugin state. */
  private async save(dir: string, reason: string): Promise<CheckpointInfo> {
    const { aggregate, history, fitShape } = this.prepared;
    const state = this.core.checkpointState(this.position, aggregate, history, fitShape);
    // Published only once plugins made durable what must precede it (loggers' records): see control.beforeCheckpoint.
    const info = await writeSnapshot(dir, this.core.checkpointSnapshot(state), () => this.steering.beforeCheckpoint());
    this.core.emit('checkpoint:saved', { ...this.loopPosition(), path: info.path, batch: this.position.batch, reason });
    return info;
  }

  /** Computes the rate of the next update (core's learning-rate pipeline writes it into the optimizer). */
  private updateRate(): LearningRateValue {
    const position = { step: this.position.step, epoch: this.position.epoch, stepsPerEpoch: this.stepsPerEpoch };
    for (const o of this.core.optimizers.slice(1)) o.lr.update(position);
    return this.core.lr.update(position);
  }

  /** Batches of the epoch about to run (known for in-memory data and `stepsPerEpoch`); sets the steps per epoch. */
  private planEpoch(): number | undefined {
    const { opts, train } = this.prepared;
    const batches = effectiveBatches(train.batchesIn(this.position.epoch), opts);
    this.stepsPerEpoch = batches === undefined ? undefined : Math.ceil(batches / opts.accumulateBatches);
    return batches;
  }

  private loopPosition() {
    return { epoch: this.position.epoch, step: this.position.step, learningRate: this.core.learningRate };
  }
}

/** tfjs' error after the model was disposed while the fit ran, said as what happened and what to do instead. */
function explainDisposedModel<M extends string>(error: unknown, core: TrainerCore<M>, at: { readonly epoch: number; readonly step: number }): unknown {
  if (error instanceof FitstreamInputError) return error;
  const disposed = disposedWeight(core.model);
  if (disposed === undefined) return error;
  return new FitstreamInputError(
    'model',
    `${core.model.label} was disposed while the fit ran (weight "${disposed}", epoch ${at.epoch}, step ${at.step}): dispose it only after trainer.fit() resolves; to end a fit early call control.stop() from a plugin or pass options.signal (an AbortSignal). (tfjs: ${error instanceof Error ? error.message : String(error)})`,
  );
}
