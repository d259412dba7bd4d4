import type * as tf from '@tensorflow/tfjs';
import type { Observable } from 'rxjs';
import { FitstreamInputError } from '@fitstream/util';
import { writeSnapshot, type CheckpointInfo, type CheckpointStateInput } from '@fitstream/checkpoint';
import type { DependencyContainer } from '../di/container.js';
import { pluginRegistry } from '../di/token.js';
import type { EventOf, TrainerEvent } from '../events/event-map.js';
import type { TrainName } from '../events/metric-names.js';
import type { Plugin } from '../plugin/plugin.js';
import type { DataSource } from './data.js';
import { runEvaluation } from './evaluation.js';
import { DEFAULT_BATCH } from './fit-options.js';
import { runFit, type FitResult } from './fit-run.js';
import { normaliseFitCall, type FitArgs, type FitInputs, type TfjsFitArgs } from './model-fit-compat.js';
import { copyHistory, emptyHistory, type MutableHistory } from './history.js';
import type { LogNamesOf, LossOption } from './heads.js';
import type { Targets } from '../model/targets.js';
import type { MetricSpec } from '@fitstream/losses';
import { disposeOptimizer } from '@fitstream/optimizers';
import type { TrainStep } from './train-step.js';
import { TrainerCore, type LoopState } from './trainer-core.js';
import type { TrainerOptions } from './trainer-options.js';

export type { TrainerOptions } from './trainer-options.js';
export type { FitOptions } from './fit-options.js';
export type { FitArgs, TfjsFitArgs, FitInputs, ModelFitArgs, TfjsCallback, TfjsLogs, ValidationTuple } from './model-fit-compat.js';
export type { FitResult } from './fit-run.js';

/** Evaluation results: loss and metrics on the data, plain numbers. */
export type EvaluationLogs<M extends string> = Readonly<Record<TrainName<M>, number>> & { readonly samples: number };

/** Where the last fit left the loop, so that `saveCheckpoint` between fits records the true position. */
interface LastFit {
  readonly position: LoopState;
  readonly history: MutableHistory;
  readonly fit: NonNullable<CheckpointStateInput['fit']>;
}

/**
 * A trainer that owns the tfjs training loop and publishes a typed event stream. Create with {@link createTrainer}.
 * A fit runs as named phases (see `fit-run.ts`): prepare → epochs (plan, train batches, validate, end) → finish.
 */
export class Trainer<M extends string = string> {
  /** Every fit, epoch, batch and step event; subscribe to observe, use plugins to steer. */
  readonly events$: Observable<TrainerEvent<M>>;
  /** The trainer's own DI container (a child of tsyringe's root); plugins get only a registry that adds to it. */
  readonly container: DependencyContainer;
  /** The main optimizer (the first of {@link optimizers}). */
  readonly optimizer: tf.Optimizer;
  /** Every optimizer by name (one unnamed optimizer is `default`). */
  readonly optimizers: Readonly<Record<string, tf.Optimizer>>;
  readonly seed: number | string;
  readonly metricNames: readonly TrainName<M>[];
  /** The options the trainer was created with (model, optimizer, loss, metrics, seed, backend). */
  readonly options: TrainerOptions;

  private readonly core: TrainerCore<M>;
  private lastFit: LastFit | undefined;
  private running = false;
  private disposed = false;

  constructor(options: TrainerOptions) {
    this.core = new TrainerCore<M>(options);
    this.options = options;
    this.events$ = this.core.channel.events$;
    this.container = this.core.container;
    this.optimizer = this.core.optimizer;
    this.optimizers = Object.freeze(Object.fromEntries(this.core.optimizers.map((o) => [o.name, o.optimizer])));
    this.seed = this.core.seed;
    this.metricNames = this.core.metricNames;
  }

  /** Adds a plugin: registers its contributions to the plugin points now; its `attach` runs at every fit. */
  use(plugin: Plugin<M>): this {
    // A plugin may be callable (a schedule is a function with plugin fields); a factory is a function with none of them.
    const given: unknown = plugin;
    const fields = (given ?? {}) as Record<string, unknown>;
    const factory = typeof given === 'function' && typeof fields['register'] !== 'function' && typeof fields['attach'] !== 'function';
    if (!plugin || factory || typeof plugin.name !== 'string') {
      throw new FitstreamInputError('plugin', `trainer.use(plugin) takes a plugin { name, register?, attach?, claims? } such as earlyStopping({ patience: 5 }), got ${typeof given === 'function' ? `the function ${String(fields['name']) || '(anonymous)'}` : given === null || given === undefined ? String(given) : 'an object without a string name'}; call the plugin's factory (earlyStopping(), not earlyStopping).`);
    }
    if (this.running) throw new Error(`trainer.use("${plugin.name}"): plugins cannot be added while fit is running.`);
    if (this.core.plugins.some((p) => p.name === plugin.name)) {
      throw new Error(`Plugin "${plugin.name}" is already in use on this trainer; add each plugin once.`);
    }
    plugin.register?.(pluginRegistry(this.container));
    this.core.plugins.push(plugin);
    return this;
  }

  /** The learning rate now in force (core's learning-rate pipeline computes it for every update). */
  get learningRate(): number {
    return this.core.learningRate;
  }

  /**
   * Trains. Resolves with the history when the last epoch ends or a plugin stops the fit; rejects on errors.
   *
   * Also takes tfjs' `model.fit(x, y, options)` call shape (x: a tensor, one per input or a map by input name; y: a
   * tensor, one per output or a map by output name; `epochs` defaults to 1 there, as in tfjs) and tfjs' option names
   * (`validationData`, `validationSplit`, `callbacks`, `batchesPerEpoch`, `yieldEvery`, `verbose` …): see
   * docs/guides/from-model-fit.md. An unknown option name is an error with the closest known one.
   *
   * @example
   * ```ts
   * await trainer.fit({ x, y }, { epochs: 10, batchSize: 32, validation: { x: xVal, y: yVal } });
   * await trainer.fit(x, y, { epochs: 10, validationSplit: 0.2, callbacks: { onEpochEnd: (epoch, logs) => console.log(epoch, logs?.val_loss) } });
   * ```
   */
  fit(data: DataSource, options: FitArgs): Promise<FitResult<M>>;
  fit(x: FitInputs, y: Targets, options?: TfjsFitArgs): Promise<FitResult<M>>;
  async fit(first: DataSource | FitInputs, second: FitArgs | Targets, third?: TfjsFitArgs): Promise<FitResult<M>> {
    this.assertUsable();
    if (this.running) throw new Error('trainer.fit: a fit is already running on this trainer; await it first.');
    const call = normaliseFitCall(this.core.model, (line) => this.core.log(line), first, second, third);
    this.running = true;
    this.core.plugins.push(...(call.plugins as Plugin<M>[]));
    try {
      // A mid-epoch stop keeps its partial position; the epoch's metric sums are not kept between fits.
      return await runFit(this.core, call.data, call.options, (run) => {
        this.lastFit = { position: { ...run.position }, history: copyHistory(run.history), fit: run.prepared.fitShape };
      });
    } finally {
      // The fit's own plugins (tfjs callbacks, verbose) leave with it.
      for (const plugin of call.plugins) this.core.plugins.splice(this.core.plugins.indexOf(plugin as Plugin<M>), 1);
      call.dispose();
      this.running = false;
    }
  }

  /** Continues an interrupted fit from a checkpoint, mid-epoch at the exact batch. */
  resume(checkpoint: string, data: DataSource, options: FitArgs): Promise<FitResult<M>> {
    return this.fit(data, { ...options, resumeFrom: checkpoint });
  }

  /** Loss and metrics on `data` in inference mode (dropout off), aggregated on the device, read once. */
  async evaluate(data: DataSource, options: { batchSize?: number; limitBatches?: number } = {}): Promise<EvaluationLogs<M>> {
    this.assertUsable();
    await this.core.ensureBackend();
    const source = this.core.evaluationSource(data, options.batchSize ?? DEFAULT_BATCH, 'data');
    const result = await this.core.withWeightView('evaluation', () => runEvaluation(this.core, source, options.limitBatches, 'data'));
    const logs: Record<string, number> = { samples: result.samples };
    this.metricNames.forEach((n, i) => (logs[n] = result.means[i]!));
    return logs as EvaluationLogs<M>;
  }

  /** Writes a checkpoint of the model and optimizer between fits (inside a fit, use `control.saveCheckpoint`). */
  async saveCheckpoint(dir: string): Promise<CheckpointInfo> {
    this.assertUsable();
    const last = this.lastFit ?? { position: { epoch: 0, batch: 0, step: 0 }, history: emptyHistory(), fit: { epochs: 0, batchSize: DEFAULT_BATCH, accumulateBatches: 1, shuffle: true } };
    return writeSnapshot(dir, this.core.checkpointSnapshot(this.core.checkpointState(last.position, undefined, last.history, last.fit)));
  }

  /**
   * Disposes the plugins (their `dispose`, last added first) and what the trainer owns (a named optimizer), and ends
   * the event stream. Models stay the caller's. A plugin whose `dispose` throws does not stop the others; the first
   * error is rethrown once everything else is freed (several: an `AggregateError`).
   */
  dispose(): void {
    if (this.disposed) return;
    if (this.running) throw new Error('trainer.dispose: a fit is running; stop it and await it first.');
    this.disposed = true;
    const errors: unknown[] = [];
    for (const plugin of [...this.core.plugins].reverse()) {
      try {
        plugin.dispose?.();
      } catch (error) {
        errors.push(error);
      }
    }
    for (const o of this.core.optimizers) if (o.owned) disposeOptimizer(o.optimizer);
    this.core.channel.complete();
    this.container.clearInstances();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `trainer.dispose: ${errors.length} plugins failed to dispose.`);
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('This trainer was disposed; create a new one.');
  }
}

/**
 * Creates a trainer for a model, an optimizer, a loss and metrics. Metric names are typed from `metrics`, so event
 * logs such as `e.metrics.val_accuracy` are checked at compile time; for a multi-output model with a loss map keyed by
 * output name, `e.metrics.val_<output>_loss` and `e.metrics.<output>_<metric>` are.
 *
 * @example
 * ```ts
 * const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 42 });
 * trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => console.log(e.epoch, e.metrics.val_accuracy));
 * const { history } = await trainer.fit({ x, y }, { epochs: 20, batchSize: 16, validation: { x: xVal, y: yVal } });
 * ```
 */
export function createTrainer<const N extends string>(options: TrainerOptions & { readonly trainStep: TrainStep<N> }): Trainer<N>;
export function createTrainer<const S extends MetricSpec = never, const L extends LossOption = LossOption, const MX extends TrainerOptions<S>['metrics'] = readonly S[]>(
  options: TrainerOptions<S> & { readonly loss: L; readonly metrics?: MX },
): Trainer<LogNamesOf<L, MX>>;
/** A model compiled with `model.compile({ optimizer, loss, metrics })` brings its own: metric names are not known statically. */
export function createTrainer(options: TrainerOptions & { readonly model: tf.LayersModel; readonly loss?: undefined; readonly trainStep?: undefined }): Trainer<string>;
export function createTrainer(options: TrainerOptions): Trainer<string> {
  return new Trainer<string>(options);
}

export type { EventOf };
