import * as tf from '@tensorflow/tfjs';
import { Subscription, type Observable } from 'rxjs';
import { selectBackend, type BackendPreference, type BackendSelection } from '../backends/select-backend.js';
import {
  assignWeights,
  markLatest,
  readCheckpoint,
  restoreOptimizer,
  snapshotCheckpoint,
  writeSnapshot,
  type CheckpointInfo,
  type CheckpointSnapshot,
  type CheckpointStateInput,
} from '../checkpoint/checkpoint.js';
import { createChildContainer, type DependencyContainer } from '../di/container.js';
import { resolveAll } from '../di/token.js';
import { createEventChannel, type EventChannel } from '../events/event-stream.js';
import { CORE_EVENT_TYPES, serializeError, type EventOf, type FitEndReason, type History, type TrainerEvent, type TrainerEventMap, type TrainerEventType } from '../events/event-map.js';
import { createLazyValues, type LazyMetrics } from '../events/lazy-metrics.js';
import type { EpochLogs, TrainName } from '../events/metric-names.js';
import { assertNoConflicts, PluginConflictError, type OwnedClaim } from '../plugin/conflicts.js';
import { alignOptimizerSlots } from '../optimizers/align-optimizer-slots.js';
import {
  BatchTransform,
  GradientTransform,
  IndexSampler,
  LearningRateMultiplier,
  LearningRateOwner,
  LossTransform,
  ResumeSource,
  StateProvider,
  WeightConstraint,
  WeightView,
  type Batch,
  type Json,
  type StepContext,
  EpochMetricsReducer,
} from '../plugin/plugin-points.js';
import type { Plugin } from '../plugin/plugin.js';
import { Random } from '../random/random.js';
import type { TrainerControl } from './control.js';
import { createSource, disposeBatch, isTensorData, validateBatch, type BatchSource, type DataSource, type TensorData } from './data.js';
import { EpochAggregate } from './epoch-aggregate.js';
import { FitstreamInputError, assertNonNegativeInteger, assertPositiveInteger } from './errors.js';
import { resolveLoss, type LossSpec, type ResolvedLoss } from './losses.js';
import { resolveMetrics, type MetricNameOf, type MetricSpec, type ResolvedMetric } from './metrics.js';
import { adaptModel, type ModelAdapter, type TrainableModel } from './model.js';
import { getLearningRate, resolveOptimizer, setLearningRate, type OptimizerSpec } from './optimizer.js';
import { GradientAccumulator, applyUpdate, forwardBackward, orderGradientTransforms, type StepPlugins } from './step-pipeline.js';

/** Options of {@link createTrainer}. */
export interface TrainerOptions<S extends MetricSpec = MetricSpec> {
  readonly model: TrainableModel;
  /** A tfjs optimizer instance (you own it) or a name (the trainer owns and disposes it). */
  readonly optimizer: OptimizerSpec;
  readonly loss: LossSpec;
  readonly metrics?: readonly S[];
  /** Seeds every random stream (shuffling, dropout masks, plugins). Default: a random seed, reported in `fit:start`. */
  readonly seed?: number | string;
  /** Backend preference for {@link selectBackend}; `'current'` keeps whatever tfjs runs on now. Default `'auto'`. */
  readonly backend?: BackendPreference | 'current';
  /** Where the trainer's few log lines go (backend fallback). Default stderr; `null` silences. */
  readonly log?: ((line: string) => void) | null;
}

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Index of the last epoch, exclusive (Keras semantics: with `initialEpoch: 3, epochs: 5` epochs 3 and 4 run). */
  readonly epochs: number;
  /** Batch size for in-memory data (default 32); streams bring their own batches. */
  readonly batchSize?: number;
  readonly validation?: DataSource;
  /** Batch size for in-memory validation data (default: `batchSize`). */
  readonly validationBatchSize?: number;
  /** Validate every n epochs (default 1); the last epoch always validates. */
  readonly validationEvery?: number;
  /** Shuffle in-memory data each epoch with the seeded PRNG (default `true`). */
  readonly shuffle?: boolean;
  /** Drop the last partial batch of in-memory data (default `false`, as Keras). */
  readonly dropLast?: boolean;
  /** Batches per epoch: required for endless streams, a cap otherwise. */
  readonly stepsPerEpoch?: number;
  /** Accumulate gradients over this many batches per optimizer update (default 1). */
  readonly accumulateBatches?: number;
  readonly initialEpoch?: number;
  /** Train on only this many batches per epoch (an integer), or this fraction of them (0 < f < 1). */
  readonly limitBatches?: number;
  /** Validate on only this many batches (integer) or this fraction of them. */
  readonly limitValidationBatches?: number;
  /** Debug aid: train (and validate) on the same first n batches every epoch, unshuffled. */
  readonly overfitBatches?: number;
  /** Stops the fit gracefully after the current step when aborted. */
  readonly signal?: AbortSignal;
  /** Stop gracefully on SIGINT/SIGTERM (a second signal exits at once). Default `true`. */
  readonly handleSignals?: boolean;
  /** Where `control.requestCheckpoint()` writes (`<dir>/epoch-E-step-S`, with `latest.json`). */
  readonly checkpointDir?: string;
  /** Value checks (NaN/Inf, label ranges) cost a device read: in-memory data is checked once; streams on their first epoch (`'first-epoch'`, default), `'always'`, or `'never'`. */
  readonly checkData?: 'first-epoch' | 'always' | 'never';
  /** Resume from a checkpoint directory (or a directory with `latest.json`). Same as {@link Trainer.resume}. */
  readonly resumeFrom?: string;
  /**
   * Return to the event loop at least this often (ms) so that timers, I/O and signal handlers run during a fit: with
   * the synchronous cpu/wasm kernels and in-memory data a fit would otherwise never leave the microtask queue (SIGINT
   * would not be seen until it ended). Default 50; `0` yields at every boundary.
   */
  readonly yieldEveryMs?: number;
}

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

/** Evaluation results: loss and metrics on the data, plain numbers. */
export type EvaluationLogs<M extends string> = Readonly<Record<TrainName<M>, number>> & { readonly samples: number };

interface LoopState {
  epoch: number;
  /** Batches of `epoch` already trained. */
  batch: number;
  step: number;
}

const DEFAULT_BATCH = 32;

/**
 * A trainer that owns the tfjs training loop and publishes a typed event stream. Create with {@link createTrainer}.
 */
export class Trainer<M extends string = string> {
  /** Every fit, epoch, batch and step event; subscribe to observe, use plugins to steer. */
  readonly events$: Observable<TrainerEvent<M>>;
  /** The trainer's own DI container (a child of tsyringe's root). */
  readonly container: DependencyContainer;
  readonly optimizer: tf.Optimizer;
  readonly seed: number | string;
  readonly metricNames: readonly TrainName<M>[];

  private readonly channel: EventChannel<M>;
  private readonly model: ModelAdapter;
  private readonly ownsOptimizer: boolean;
  private readonly loss: ResolvedLoss;
  private readonly metrics: readonly ResolvedMetric[];
  private readonly random: Random;
  private readonly plugins: Plugin<M>[] = [];
  /** The options the trainer was created with (model, optimizer, loss, metrics, seed, backend). */
  readonly options: TrainerOptions;
  private backendSelection: BackendSelection | undefined;
  /** Where the last fit left the loop, so that `saveCheckpoint` between fits records the true position. */
  private lastFit: { position: LoopState; history: MutableHistory; fit: CheckpointStateInput['fit'] } | undefined;
  private running = false;
  /** Tensor ids (x…, y) whose values were already checked for NaN/Inf and label ranges. */
  private readonly checkedData = new Set<string>();
  private disposed = false;

  constructor(options: TrainerOptions) {
    if (options == null) throw new TypeError('createTrainer(options): options are required ({ model, optimizer, loss }).');
    this.options = options;
    this.model = adaptModel(options.model);
    if (options.optimizer == null) throw new FitstreamInputError('optimizer', "is required: a name such as 'adam' or a tf.train.* instance.");
    if (options.loss == null) throw new FitstreamInputError('loss', "is required: a name such as 'categoricalCrossentropy' or { name, fn }.");
    this.loss = resolveLoss(options.loss);
    this.metrics = resolveMetrics(options.metrics ?? [], this.loss);
    const { optimizer, owned } = resolveOptimizer(options.optimizer);
    this.optimizer = optimizer;
    this.ownsOptimizer = owned;
    this.seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.random = Random.fromSeed(this.seed);
    this.metricNames = ['loss', ...this.metrics.map((m) => m.name as M)];
    this.channel = createEventChannel<M>();
    this.events$ = this.channel.events$;
    this.container = createChildContainer();
  }

  /** Adds a plugin: registers its DI contributions now; its `attach` runs at every fit. */
  use(plugin: Plugin<M>): this {
    if (!plugin || typeof plugin.name !== 'string') throw new TypeError('trainer.use(plugin): a plugin is { name, register?, attach?, claims? }.');
    if (this.running) throw new Error(`trainer.use("${plugin.name}"): plugins cannot be added while fit is running.`);
    if (this.plugins.some((p) => p.name === plugin.name)) {
      throw new Error(`Plugin "${plugin.name}" is already in use on this trainer; add each plugin once.`);
    }
    plugin.register?.(this.container);
    this.plugins.push(plugin);
    return this;
  }

  /** The learning rate now in force. */
  get learningRate(): number {
    return getLearningRate(this.optimizer);
  }

  /** Trains. Resolves with the history when the last epoch ends or a plugin stops the fit; rejects on errors. */
  async fit(data: DataSource, options: FitOptions): Promise<FitResult<M>> {
    this.assertUsable();
    if (this.running) throw new Error('trainer.fit: a fit is already running on this trainer; await it first.');
    this.running = true;
    try {
      return await this.runFit(data, options);
    } finally {
      this.running = false;
    }
  }

  /** Continues an interrupted fit from a checkpoint, mid-epoch at the exact batch. */
  resume(checkpoint: string, data: DataSource, options: FitOptions): Promise<FitResult<M>> {
    return this.fit(data, { ...options, resumeFrom: checkpoint });
  }

  /** Loss and metrics on `data` in inference mode (dropout off), aggregated on the device, read once. */
  async evaluate(data: DataSource, options: { batchSize?: number; limitBatches?: number } = {}): Promise<EvaluationLogs<M>> {
    this.assertUsable();
    await this.ensureBackend();
    const source = this.createValidationSource(data, options.batchSize ?? DEFAULT_BATCH, 'data');
    const result = await this.withWeightView('evaluation', () => this.runEvaluation(source, options.limitBatches, 'data'));
    const logs: Record<string, number> = { samples: result.samples };
    this.metricNames.forEach((n, i) => (logs[n] = result.means[i]!));
    return logs as EvaluationLogs<M>;
  }

  /** Writes a checkpoint of the model and optimizer between fits (inside a fit, use `control.saveCheckpoint`). */
  async saveCheckpoint(dir: string): Promise<CheckpointInfo> {
    this.assertUsable();
    const last = this.lastFit ?? { position: { epoch: 0, batch: 0, step: 0 }, history: emptyHistory(), fit: { epochs: 0, batchSize: DEFAULT_BATCH, accumulateBatches: 1, shuffle: true } };
    return writeSnapshot(dir, this.checkpointSnapshot(this.checkpointState(last.position, undefined, last.history, last.fit)));
  }

  /** The registered weight view (EMA, SWA …) when it applies to `use`. */
  private weightView(use: 'evaluation' | 'checkpoints'): WeightView | undefined {
    const views = resolveAll(this.container, WeightView);
    if (views.length > 1) throw new PluginConflictError(`Plugins "${views[0]!.name}" and "${views[1]!.name}" both provide a weight view; use one.`);
    return views[0]?.[use] ? views[0] : undefined;
  }

  /** Runs `task` with the weight view applied when one is registered for `use`; puts the trained weights back after. */
  private async withWeightView<T>(use: 'evaluation' | 'checkpoints', task: () => Promise<T>): Promise<T> {
    const restore = this.weightView(use)?.apply();
    try {
      return await task();
    } finally {
      restore?.();
    }
  }

  /**
   * What a checkpoint holds, taken synchronously — with the weight view applied only while it is taken, so no other
   * subscriber or step ever sees the viewed weights in the model, and nothing that runs during the write changes it.
   */
  private checkpointSnapshot(state: CheckpointStateInput): CheckpointSnapshot {
    const restore = this.weightView('checkpoints')?.apply();
    try {
      return snapshotCheckpoint({ model: this.model, optimizer: this.optimizer, state, pluginTensors: this.pluginTensors() });
    } finally {
      restore?.();
    }
  }

  /** Tensors of every state provider that has some, by key (read by the checkpoint writer; not disposed here). */
  private pluginTensors(): Record<string, tf.NamedTensorMap> {
    const tensors: Record<string, tf.NamedTensorMap> = {};
    for (const provider of resolveAll(this.container, StateProvider)) {
      const own = provider.getTensors?.();
      if (own && Object.keys(own).length > 0) tensors[provider.key] = own;
    }
    return tensors;
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
    for (const plugin of [...this.plugins].reverse()) {
      try {
        plugin.dispose?.();
      } catch (error) {
        errors.push(error);
      }
    }
    if (this.ownsOptimizer) this.optimizer.dispose();
    this.channel.complete();
    this.container.clearInstances();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `trainer.dispose: ${errors.length} plugins failed to dispose.`);
  }

  /**
   * Checks in-memory data; the value checks (one device read over the whole data) run once per tensor pair, since
   * tfjs tensors are immutable and fits often repeat over the same data (an epoch per call, cross-validation).
   */
  private validateTensors(data: TensorData, argument: string, checkValues: boolean): void {
    const inputs = data.x instanceof tf.Tensor ? [data.x] : [...data.x];
    const key = [...inputs, data.y].map((t) => t.id).join(',');
    const seen = checkValues && this.checkedData.has(key);
    validateBatch({ x: data.x, y: data.y }, { model: this.model, targetKind: this.loss.kind }, argument, checkValues && !seen);
    if (checkValues) this.checkedData.add(key);
  }

  private log(line: string): void {
    if (this.options.log === null) return;
    (this.options.log ?? ((l: string) => console.error(l)))(line);
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('This trainer was disposed; create a new one.');
  }

  private async ensureBackend(): Promise<string> {
    const prefer = this.options.backend ?? 'auto';
    if (prefer === 'current') {
      await tf.ready();
      if (!this.backendSelection) {
        this.backendSelection = { backend: tf.getBackend(), candidate: 'cpu', fallbacks: [], message: `fitstream: backend ${tf.getBackend()} (current)`, wasmKernels: undefined };
        this.emit('backend:selected', { backend: tf.getBackend(), fallbacks: [] });
      }
      return tf.getBackend();
    }
    const selection = await selectBackend(this.options.log === undefined ? { prefer } : { prefer, log: this.options.log });
    if (this.backendSelection?.backend !== selection.backend) {
      this.backendSelection = selection;
      this.emit('backend:selected', { backend: selection.backend, fallbacks: selection.fallbacks });
    }
    return selection.backend;
  }

  private emit<K extends TrainerEventType>(type: K, payload: TrainerEventMap<M>[K]): void {
    this.channel.emit({ type, time: Date.now(), ...payload } as unknown as TrainerEvent<M>);
  }

  private createValidationSource(data: DataSource, batchSize: number, argument: string): BatchSource {
    const source = createSource(data, { batchSize, shuffle: false, dropLast: false, random: this.random }, argument);
    if (isTensorData(data)) this.validateTensors(data, argument, true);
    return source;
  }

  private async runEvaluation(source: BatchSource, limit: number | undefined, argument: string): Promise<{ means: number[]; samples: number }> {
    const aggregate = new EpochAggregate(this.metricNames.length);
    const cap = resolveLimit(limit, source.batchesPerEpoch, 'limitValidationBatches');
    let index = 0;
    const { batches, owned } = source.batches(0, 0);
    try {
      for await (const batch of batches) {
        try {
          if (source.kind === 'stream') validateBatch(batch, { model: this.model, targetKind: this.loss.kind }, argument, index === 0);
          const values = tf.tidy(() => {
            const pred = this.model.forward(batch.x, false);
            let perSample = this.loss.fn(batch.y, pred);
            if (batch.sampleWeight) perSample = tf.mul(perSample, batch.sampleWeight);
            return tf.stack([tf.mean(perSample), ...this.metrics.map((m) => tf.mean(m.fn(batch.y, pred)))]) as tf.Tensor1D;
          });
          aggregate.add(values, batch.y.shape[0]);
          values.dispose();
        } finally {
          if (owned) disposeBatch(batch);
        }
        if (++index >= cap) break;
      }
      if (aggregate.samples === 0) throw new FitstreamInputError(argument, 'yielded no batches; pass non-empty data.');
      return { means: await aggregate.means(), samples: aggregate.samples };
    } finally {
      aggregate.dispose();
    }
  }

  private checkpointState(
    position: LoopState,
    aggregate: EpochAggregate | undefined,
    history: MutableHistory,
    fit: CheckpointStateInput['fit'],
  ): CheckpointStateInput {
    const plugins: Record<string, Json> = {};
    for (const provider of resolveAll(this.container, StateProvider)) {
      if (provider.key in plugins) throw new Error(`Two state providers use the key "${provider.key}"; keys must be unique.`);
      plugins[provider.key] = provider.getState();
    }
    return {
      epoch: position.epoch,
      batch: position.batch,
      step: position.step,
      learningRate: this.learningRate,
      random: this.random.getState(),
      aggregate:
        aggregate && aggregate.batches > 0
          ? { names: [...this.metricNames], sums: aggregate.readSums(), samples: aggregate.samples, batches: aggregate.batches }
          : null,
      history: { epochs: [...history.epochs], logs: history.logs },
      plugins,
      fit,
    };
  }

  private async runFit(data: DataSource, options: FitOptions): Promise<FitResult<M>> {
    const opts = normaliseFitOptions(options);
    const backend = await this.ensureBackend();
    const model = this.model;

    // Conflicts are checked before anything runs, naming both plugins.
    const claims: OwnedClaim[] = this.plugins.flatMap((p) => (p.claims ?? []).map((c) => ({ ...c, owner: p.name })));
    const samplers = resolveAll(this.container, IndexSampler);
    for (const sampler of samplers) claims.push({ resource: 'index-sampler', exclusive: true, owner: sampler.name }, { resource: 'batch-order', value: sampler.order, owner: sampler.name });
    const sampler = isTensorData(data) && !opts.overfitBatches ? samplers[0] : undefined;
    // The trainer's own shuffling claims the batch order; with a sampler only an explicit `shuffle: true` does (so that
    // it is refused next to a sequential sampler instead of being silently ignored).
    if ((sampler ? options.shuffle === true : opts.shuffle) && isTensorData(data) && !opts.overfitBatches) {
      claims.push({ resource: 'batch-order', value: 'shuffled', owner: 'the trainer (fit option shuffle: true)' });
    }
    for (const owner of resolveAll(this.container, LearningRateOwner)) claims.push({ resource: 'learning-rate', exclusive: true, owner: owner.name });
    for (const view of resolveAll(this.container, WeightView)) claims.push({ resource: 'weight-view', exclusive: true, owner: view.name });
    const resumeSources = resolveAll(this.container, ResumeSource);
    for (const source of resumeSources) claims.push({ resource: 'resume-source', exclusive: true, owner: source.name });
    const metricsReducers = resolveAll(this.container, EpochMetricsReducer);
    for (const reducer of metricsReducers) claims.push({ resource: 'epoch-metrics-reducer', exclusive: true, owner: reducer.name });
    assertNoConflicts(claims);
    const metricsReducer = metricsReducers[0];

    const plugins: StepPlugins = {
      batchTransforms: resolveAll(this.container, BatchTransform),
      lossTransforms: resolveAll(this.container, LossTransform),
      gradientTransforms: orderGradientTransforms(resolveAll(this.container, GradientTransform)),
      weightConstraints: resolveAll(this.container, WeightConstraint),
      learningRateMultipliers: resolveAll(this.container, LearningRateMultiplier),
    };
    const validationTransforms = plugins.batchTransforms.filter((t) => t.applyTo === 'train-and-validation');

    // Data: sources, shape checks (no sync) and value checks (one read for in-memory data).
    const expect = { model, targetKind: this.loss.kind };
    const trainSource = createSource(data, { batchSize: opts.batchSize, shuffle: opts.shuffle && !opts.overfitBatches, dropLast: opts.dropLast, random: this.random, sampler }, 'data');
    if (isTensorData(data)) this.validateTensors(data, 'data', opts.checkData !== 'never');
    const validationSource = opts.validation ? this.createValidationSource(opts.validation, opts.validationBatchSize ?? opts.batchSize, 'options.validation') : undefined;

    // State: fresh, or restored from a checkpoint.
    const position: LoopState = { epoch: opts.initialEpoch, batch: 0, step: 0 };
    const history: MutableHistory = emptyHistory();
    const aggregate = new EpochAggregate(this.metricNames.length);
    let resumedFrom: string | undefined;
    // An explicit resumeFrom wins; otherwise a ResumeSource plugin (an interrupted run's backup) may name one.
    const resumeFrom = opts.resumeFrom ?? (resumeSources[0] ? await resumeSources[0].find() : undefined);
    if (resumeFrom) {
      const loaded = await readCheckpoint(resumeFrom);
      try {
        assignWeights(model, loaded.weights, `Checkpoint ${loaded.path}`);
        await restoreOptimizer(this.optimizer, loaded, model);
      } finally {
        tf.dispose(Object.values(loaded.weights));
        tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
      }
      const s = loaded.state;
      // With a sampler the order is the sampler's (its StateProvider checks its own settings), not the shuffle flag.
      if (s.fit.batchSize !== opts.batchSize || s.fit.accumulateBatches !== opts.accumulateBatches || (!sampler && s.fit.shuffle !== opts.shuffle)) {
        throw new FitstreamInputError('options', `resuming ${loaded.path} needs the options it was written with (batchSize ${s.fit.batchSize}, accumulateBatches ${s.fit.accumulateBatches}, shuffle ${s.fit.shuffle}); got batchSize ${opts.batchSize}, accumulateBatches ${opts.accumulateBatches}, shuffle ${opts.shuffle}.`);
      }
      if (JSON.stringify(s.random.key) !== JSON.stringify(this.random.getState().key)) {
        throw new FitstreamInputError('seed', `the checkpoint ${loaded.path} was written by a trainer with another seed; create the trainer with the same seed to resume exactly.`);
      }
      Object.assign(position, { epoch: s.epoch, batch: s.batch, step: s.step });
      setLearningRate(this.optimizer, s.learningRate);
      history.epochs.push(...s.history.epochs);
      for (const [k, v] of Object.entries(s.history.logs)) history.logs[k] = [...v];
      if (s.aggregate && s.batch > 0) aggregate.restore(s.aggregate.sums, s.aggregate.samples, s.aggregate.batches);
      const providers = new Map(resolveAll(this.container, StateProvider).map((p) => [p.key, p]));
      for (const [key, value] of Object.entries(s.plugins)) providers.get(key)?.setState(value);
      try {
        for (const [key, tensors] of Object.entries(loaded.pluginTensors)) {
          const provider = providers.get(key);
          if (!provider?.setTensors) throw new Error(`Checkpoint ${loaded.path} holds tensors of plugin "${key}", which this trainer does not use; add it to resume exactly.`);
          provider.setTensors(tensors);
        }
      } finally {
        for (const tensors of Object.values(loaded.pluginTensors)) tf.dispose(Object.values(tensors));
      }
      resumedFrom = loaded.path;
    }

    const batchesPerEpoch = effectiveBatches(trainSource.batchesIn(position.epoch), opts);
    if (sampler && (options.shuffle !== undefined || options.dropLast !== undefined)) {
      this.log(`fitstream: sampler "${sampler.name}" plans the batches; the fit options shuffle/dropLast are ignored.`);
    }

    // Control and plugin subscriptions for this fit.
    const pending = new Set<PromiseLike<unknown>>();
    const failures: unknown[] = [];
    let stopReason: string | undefined;
    let checkpointRequest: string | undefined;
    const fitShape = { epochs: opts.epochs, batchSize: opts.batchSize, accumulateBatches: opts.accumulateBatches, shuffle: opts.shuffle };
    const save = async (dir: string, reason: string): Promise<CheckpointInfo> => {
      const info = await writeSnapshot(dir, this.checkpointSnapshot(this.checkpointState(position, aggregate, history, fitShape)));
      this.emit('checkpoint:saved', { epoch: position.epoch, step: position.step, learningRate: this.learningRate, path: info.path, batch: position.batch, reason });
      return info;
    };
    // A checkpoint asked for while a step's batches are in flight (batch:start … step:end) is written when the step
    // ends: only then do weights, optimizer slots, position and epoch sums describe the same moment.
    let stepOpen = false;
    const deferredSaves: { dir: string; reason: string; resolve: (info: CheckpointInfo) => void; reject: (e: unknown) => void }[] = [];
    const deferredPromises = new WeakSet<PromiseLike<unknown>>();
    const writeDeferredSaves = async (): Promise<void> => {
      while (deferredSaves.length) {
        const request = deferredSaves.shift()!;
        try {
          request.resolve(await save(request.dir, request.reason));
        } catch (error) {
          request.reject(error);
          throw error;
        }
      }
    };
    const hold = (p: PromiseLike<unknown>): void => {
      if (deferredPromises.has(p)) return; // the loop writes it at the step boundary and awaits it there
      const tracked: Promise<unknown> = Promise.resolve(p).then(
        () => pending.delete(tracked),
        (error: unknown) => {
          pending.delete(tracked);
          failures.push(error);
        },
      );
      pending.add(tracked);
    };
    const control: TrainerControl<M> = {
      stop: (reason) => {
        stopReason ??= reason ?? 'stop requested';
      },
      get stopRequested() {
        return stopReason !== undefined;
      },
      setLearningRate: (lr) => setLearningRate(this.optimizer, lr),
      getLearningRate: () => this.learningRate,
      requestCheckpoint: (reason) => {
        if (!opts.checkpointDir) throw new FitstreamInputError('options.checkpointDir', 'control.requestCheckpoint() needs a checkpoint directory; pass fit option checkpointDir.');
        checkpointRequest ??= reason ?? 'requested';
      },
      saveCheckpoint: (dir, reason = 'requested') => {
        if (stepOpen) {
          const p = new Promise<CheckpointInfo>((resolve, reject) => deferredSaves.push({ dir, reason, resolve, reject }));
          deferredPromises.add(p);
          return p;
        }
        const p = save(dir, reason);
        hold(p);
        return p;
      },
      await: hold,
      snapshotWeights: () => new Map([...model.namedWeights()].map(([name, v]) => [name, tf.clone(v)])),
      restoreWeights: (weights) => {
        for (const [name, v] of model.namedWeights()) {
          const w = weights.get(name);
          if (!w) throw new Error(`restoreWeights: no weight "${name}" in the snapshot.`);
          v.assign(w);
        }
      },
      model: this.options.model,
      namedWeights: () => model.namedWeights(),
      random: this.random,
      metricNames: this.metricNames,
      checkpointDir: opts.checkpointDir,
      emit: (type, payload) => {
        if ((CORE_EVENT_TYPES as readonly string[]).includes(type)) throw new Error(`control.emit('${type}'): core events are published by the trainer only; declare your own event type.`);
        this.emit(type, payload);
      },
    };

    const subscriptions = new Subscription();
    const onAbort = () => control.stop(`aborted${opts.signal?.reason ? `: ${String(opts.signal.reason)}` : ''}`);
    let signals = 0;
    const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
      if (++signals > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
      control.stop(signal);
    };
    const onSigint = () => onSignal('SIGINT');
    const onSigterm = () => onSignal('SIGTERM');
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) onAbort();
    if (opts.handleSignals && typeof process !== 'undefined') {
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigterm);
    }

    // The one place where the loop yields to plugins: subscriber errors, awaited promises, checkpoint requests.
    let lastYield = performance.now();
    const boundary = async (checkpointAllowed: boolean): Promise<void> => {
      const errors = this.channel.takeErrors();
      if (errors.length) throw errors[0];
      if (checkpointAllowed) await writeDeferredSaves();
      while (pending.size) await Promise.all([...pending]);
      if (performance.now() - lastYield >= opts.yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (failures.length) throw failures[0];
      if (checkpointRequest && checkpointAllowed) {
        const reason = checkpointRequest;
        checkpointRequest = undefined;
        const dir = `${opts.checkpointDir}/epoch-${String(position.epoch).padStart(4, '0')}-step-${String(position.step).padStart(8, '0')}`;
        await save(dir, reason);
        await markLatest(dir);
      }
      const late = this.channel.takeErrors();
      if (late.length) throw late[0];
    };

    const position0 = () => ({ epoch: position.epoch, step: position.step, learningRate: this.learningRate });
    let epochsRun = 0;
    let final: EpochLogs<M> | undefined;
    const accumulator = new GradientAccumulator();
    // The trained variables, read again at every step: freezing or unfreezing a layer takes effect at the next step.
    // tfjs optimizers index their slots by position, so a change of the set realigns them by name: variables that stay
    // trainable keep their moments.
    let variables: tf.Variable[] = [];
    let aligned = false;
    const refreshVariables = () => {
      const next = model.trainableVariables();
      if (next.length === 0) throw new Error(`${model.label} has no trainable variables; unfreeze at least one layer.`);
      // The same variables in the same order (every step but a freeze change): nothing to realign.
      const same = aligned && next.length === variables.length && next.every((v, i) => v === variables[i]);
      if (!same) alignOptimizerSlots(this.optimizer, next.map((v) => v.name));
      aligned = true;
      variables = next;
    };
    const groupAggregate = new EpochAggregate(this.metricNames.length);
    let previousLazy: { release(): void; tensor: tf.Tensor; metrics: LazyMetrics<M> } | undefined;
    const releaseLazy = () => {
      if (previousLazy) {
        previousLazy.release();
        previousLazy.tensor.dispose();
        previousLazy = undefined;
      }
    };

    try {
      for (const plugin of this.plugins) {
        const teardown = plugin.attach?.(this.events$, control);
        if (teardown) subscriptions.add(teardown);
      }
      this.emit('fit:start', {
        epochs: opts.epochs,
        initialEpoch: position.epoch,
        batchSize: opts.batchSize,
        batchesPerEpoch,
        samples: trainSource.samplesIn(position.epoch),
        accumulateBatches: opts.accumulateBatches,
        step: position.step,
        learningRate: this.learningRate,
        resumedFrom,
      });
      await boundary(false);

      while (position.epoch < opts.epochs && stopReason === undefined) {
        const epoch = position.epoch;
        const started = performance.now();
        const skip = position.batch;
        if (skip === 0) aggregate.dispose();
        refreshVariables();
        this.emit('epoch:start', { ...position0(), batchesPerEpoch: effectiveBatches(trainSource.batchesIn(epoch), opts) });
        await boundary(false);

        const cap = effectiveBatches(trainSource.batchesIn(epoch), opts) ?? Number.POSITIVE_INFINITY;
        const checkValues = opts.checkData === 'always' || (opts.checkData === 'first-epoch' && epochsRun === 0 && !resumedFrom);
        let stoppedMidEpoch = false;
        // `position.batch` counts the batches whose update is in the weights; `consumed` the batches read. They differ
        // only inside an accumulation group, whose batches reach the epoch sums (`groupAggregate` → `aggregate`) and
        // the position together when its step is applied, so a checkpoint or an error backup is always consistent.
        let consumed = skip;
        let lastIndex = skip - 1;
        // The update of one step: gradient transforms, optimizer, constraints; then the position moves.
        const finishStep = async (grads: tf.NamedTensorMap, ctx: StepContext, metrics: tf.Tensor1D, lazyMetrics: LazyMetrics<M>, samples: number) => {
          const applied = applyUpdate(grads, ctx, { optimizer: this.optimizer, variables, plugins, metrics, samples });
          tf.dispose(Object.values(grads));
          if (opts.accumulateBatches === 1) aggregate.add(metrics, samples);
          else aggregate.absorb(groupAggregate);
          position.batch = consumed;
          position.step += 1;
          stepOpen = false;
          this.emit('step:end', { ...position0(), batch: ctx.batch, samples, skipped: !applied, metrics: lazyMetrics });
          await boundary(true);
        };
        if (consumed < cap) {
          const epochForBatches = opts.overfitBatches ? 0 : epoch;
          const epochBatchesSource = trainSource.batches(epochForBatches, skip);
          for await (const batch of epochBatchesSource.batches) {
            const batchIndex = consumed;
            const size = batch.y.shape[0];
            try {
              if (trainSource.kind === 'stream') validateBatch(batch, expect, 'data', checkValues);
              // Trainability may change at any step boundary (fine-tuning schedules); never inside an accumulation group.
              if (accumulator.batches === 0) refreshVariables();
              stepOpen = true;
              this.emit('batch:start', { ...position0(), batch: batchIndex, size });
              await boundary(false);
              const ctx: StepContext = { epoch, batch: batchIndex, step: position.step, learningRate: this.learningRate, training: true, random: this.random.derive('step', epoch, batchIndex) };
              const result = forwardBackward(batch, ctx, { model, variables, loss: this.loss, metrics: this.metrics, plugins });
              const single = opts.accumulateBatches === 1;
              if (!single) {
                groupAggregate.add(result.metrics, size);
                accumulator.add(result.grads, size);
                tf.dispose(Object.values(result.grads));
              }
              releaseLazy();
              const lazy = createLazyValues(this.metricNames, result.metrics, `the metrics of epoch ${epoch} batch ${batchIndex}`);
              previousLazy = { release: lazy.release, tensor: result.metrics, metrics: lazy.values };
              consumed += 1;
              lastIndex = batchIndex;
              this.emit('batch:end', { ...position0(), batch: batchIndex, size, metrics: lazy.values });
              const lastOfEpoch = consumed >= cap;
              if (single) {
                await finishStep(result.grads, ctx, result.metrics, lazy.values, size);
              } else if (accumulator.batches >= opts.accumulateBatches || lastOfEpoch) {
                const samples = accumulator.samples;
                await finishStep(accumulator.take(), ctx, result.metrics, lazy.values, samples);
              } else {
                await boundary(false);
                continue;
              }
              if (stopReason !== undefined) {
                stoppedMidEpoch = !lastOfEpoch;
                break;
              }
            } finally {
              if (epochBatchesSource.owned) disposeBatch(batch);
            }
            if (consumed >= cap) break;
          }
        }
        // A stream that ended inside an accumulation group still applies what it accumulated.
        if (accumulator.batches > 0 && !stoppedMidEpoch && previousLazy) {
          const samples = accumulator.samples;
          const ctx: StepContext = { epoch, batch: lastIndex, step: position.step, learningRate: this.learningRate, training: true, random: this.random.derive('step', epoch, lastIndex) };
          await finishStep(accumulator.take(), ctx, previousLazy.tensor as tf.Tensor1D, previousLazy.metrics, samples);
        }
        if (stoppedMidEpoch) break;
        if (aggregate.batches === 0) {
          throw new FitstreamInputError('data', `yielded no batches in epoch ${epoch}${epoch > opts.initialEpoch ? '; a one-shot iterator (e.g. a generator object) is exhausted after one epoch: pass a function that returns a fresh stream, or a tf.data.Dataset' : ''}.`);
        }

        const trainMeans = await aggregate.means();
        let logs: Record<string, number> = {};
        let validationSamples = 0;
        this.metricNames.forEach((n, i) => (logs[n] = trainMeans[i]!));
        const lastEpoch = epoch === opts.epochs - 1;
        if (validationSource && (lastEpoch || (epoch + 1 - opts.initialEpoch) % opts.validationEvery === 0 || stopReason !== undefined)) {
          const validation = opts.overfitBatches ? this.overfitValidation(trainSource, opts.overfitBatches) : validationSource;
          this.emit('validation:start', { ...position0(), batchesPerEpoch: validation.batchesPerEpoch });
          await boundary(false);
          const result = await this.withWeightView('evaluation', () => this.runValidation(validation, opts.overfitBatches ?? opts.limitValidationBatches, validationTransforms, epoch));
          const valLogs: Record<string, number> = {};
          this.metricNames.forEach((n, i) => (valLogs[`val_${n}`] = result.means[i]!));
          Object.assign(logs, valLogs);
          validationSamples = result.samples;
          this.emit('validation:end', { ...position0(), samples: result.samples, metrics: valLogs as never });
          await boundary(false);
        }
        if (metricsReducer) {
          logs = metricsReducer.reduce(Object.freeze({ ...logs }), { epoch, step: position.step, samples: aggregate.samples, validationSamples, metricNames: this.metricNames });
        }
        final = Object.freeze(logs) as EpochLogs<M>;
        history.epochs.push(epoch);
        for (const [k, v] of Object.entries(logs)) (history.logs[k] ??= []).push(v);
        const epochSamples = aggregate.samples;
        const epochBatches = aggregate.batches;
        aggregate.dispose();
        releaseLazy();
        position.epoch += 1;
        position.batch = 0;
        epochsRun += 1;
        this.emit('epoch:end', { epoch, step: position.step, learningRate: this.learningRate, samples: epochSamples, batches: epochBatches, durationMs: performance.now() - started, metrics: final });
        await boundary(true);
      }

      const reason = stopReason === undefined ? 'completed' : 'stopped';
      this.emit('fit:end', { ...position0(), epoch: Math.max(position.epoch - 1, 0), reason, stopReason, error: undefined, history: freezeHistory(history) });
      await boundary(true);
      return { history: freezeHistory(history), reason, stopReason, epochs: epochsRun, step: position.step, final, backend, seed: this.seed };
    } catch (error) {
      try {
        stepOpen = false;
        accumulator.dispose();
        groupAggregate.dispose();
        this.emit('fit:end', { ...position0(), reason: 'error', stopReason, error: serializeError(error), history: freezeHistory(history) });
        await writeDeferredSaves();
        while (pending.size) await Promise.all([...pending]);
      } catch {
        /* the original error is what matters */
      }
      throw error;
    } finally {
      // A mid-epoch stop keeps its partial position; the epoch's metric sums are not kept between fits.
      this.lastFit = { position: { ...position }, history: { epochs: [...history.epochs], logs: Object.fromEntries(Object.entries(history.logs).map(([k, v]) => [k, [...v]])) }, fit: fitShape };
      releaseLazy();
      accumulator.dispose();
      groupAggregate.dispose();
      aggregate.dispose();
      subscriptions.unsubscribe();
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.handleSignals && typeof process !== 'undefined') {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigterm);
      }
      this.channel.takeErrors();
    }
  }

  private overfitValidation(train: BatchSource, batches: number): BatchSource {
    return { ...train, batchesPerEpoch: batches, batchesIn: () => batches, samplesIn: () => undefined, batches: () => train.batches(0, 0) };
  }

  private async runValidation(source: BatchSource, limit: number | undefined, transforms: StepPlugins['batchTransforms'], epoch: number) {
    if (transforms.length === 0) return this.runEvaluation(source, limit, 'options.validation');
    const random = this.random.derive('validation', epoch);
    const transformed: BatchSource = {
      ...source,
      batches: (e, skip) => {
        const inner = source.batches(e, skip);
        return { owned: true, batches: mapBatches(inner.batches, (b, i) => {
        const ctx: StepContext = { epoch, batch: i, step: 0, learningRate: this.learningRate, training: false, random: random.derive('batch', i) };
        const out = tf.tidy(() => {
          let x = b;
          for (const t of transforms) x = t.transform(x, ctx);
          return x as unknown as tf.TensorContainer;
        }) as unknown as Batch;
        if (inner.owned) disposeBatch(b, out);
        return out;
      }) };
      },
    };
    return this.runEvaluation(transformed, limit, 'options.validation');
  }
}

async function* mapBatches(batches: AsyncIterable<Batch> | Iterable<Batch>, fn: (b: Batch, i: number) => Batch): AsyncGenerator<Batch> {
  let i = 0;
  for await (const b of batches) yield fn(b, i++);
}

interface MutableHistory {
  epochs: number[];
  logs: Record<string, number[]>;
}

function emptyHistory(): MutableHistory {
  return { epochs: [], logs: {} };
}

function freezeHistory<M extends string>(h: MutableHistory): History<M> {
  return { epochs: [...h.epochs], logs: Object.fromEntries(Object.entries(h.logs).map(([k, v]) => [k, [...v]])) } as unknown as History<M>;
}

interface NormalisedFitOptions extends FitOptions {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly accumulateBatches: number;
  readonly initialEpoch: number;
  readonly validationEvery: number;
  readonly handleSignals: boolean;
  readonly checkData: 'first-epoch' | 'always' | 'never';
  readonly yieldEveryMs: number;
}

function normaliseFitOptions(options: FitOptions): NormalisedFitOptions {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError('options', 'fit(data, options) needs options, at least { epochs }.');
  assertPositiveInteger(options.epochs, 'options.epochs', 'It is the index of the last epoch, exclusive (Keras semantics).');
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  assertPositiveInteger(batchSize, 'options.batchSize', 'Use a batch size of at least 1, e.g. 32.');
  const initialEpoch = options.initialEpoch ?? 0;
  assertNonNegativeInteger(initialEpoch, 'options.initialEpoch');
  if (initialEpoch >= options.epochs && !options.resumeFrom) {
    throw new FitstreamInputError('options.initialEpoch', `is ${initialEpoch} but epochs is ${options.epochs}: nothing would train. epochs is the index of the last epoch (exclusive).`);
  }
  const accumulateBatches = options.accumulateBatches ?? 1;
  assertPositiveInteger(accumulateBatches, 'options.accumulateBatches');
  const validationEvery = options.validationEvery ?? 1;
  assertPositiveInteger(validationEvery, 'options.validationEvery');
  if (options.stepsPerEpoch !== undefined) assertPositiveInteger(options.stepsPerEpoch, 'options.stepsPerEpoch');
  if (options.overfitBatches !== undefined) assertPositiveInteger(options.overfitBatches, 'options.overfitBatches');
  if (options.validationBatchSize !== undefined) assertPositiveInteger(options.validationBatchSize, 'options.validationBatchSize');
  for (const key of ['limitBatches', 'limitValidationBatches'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && (v < 1 || Number.isInteger(v)))) {
      throw new FitstreamInputError(`options.${key}`, `must be a batch count (integer ≥ 1) or a fraction in (0, 1), got ${String(v)}.`);
    }
  }
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  if (typeof yieldEveryMs !== 'number' || !(yieldEveryMs >= 0)) throw new FitstreamInputError('options.yieldEveryMs', `must be a number of milliseconds ≥ 0, got ${String(yieldEveryMs)}.`);
  const checkData = options.checkData ?? 'first-epoch';
  if (!['first-epoch', 'always', 'never'].includes(checkData)) throw new FitstreamInputError('options.checkData', `must be 'first-epoch', 'always' or 'never', got ${String(checkData)}.`);
  return {
    ...options,
    batchSize,
    shuffle: options.shuffle ?? true,
    dropLast: options.dropLast ?? false,
    accumulateBatches,
    initialEpoch,
    validationEvery,
    handleSignals: options.handleSignals ?? true,
    checkData,
    yieldEveryMs,
  };
}

function resolveLimit(limit: number | undefined, known: number | undefined, argument: string): number {
  if (limit === undefined) return known ?? Number.POSITIVE_INFINITY;
  if (limit >= 1) return known === undefined ? limit : Math.min(limit, known);
  if (known === undefined) throw new FitstreamInputError(`options.${argument}`, 'a fraction needs data of known length (in-memory tensors or stepsPerEpoch); pass a batch count instead.');
  return Math.max(1, Math.floor(known * limit));
}

function effectiveBatches(known: number | undefined, opts: NormalisedFitOptions): number | undefined {
  if (opts.overfitBatches) return known === undefined ? opts.overfitBatches : Math.min(opts.overfitBatches, known);
  let n = known;
  if (opts.stepsPerEpoch !== undefined) n = n === undefined ? opts.stepsPerEpoch : Math.min(n, opts.stepsPerEpoch);
  if (opts.limitBatches !== undefined) n = resolveLimit(opts.limitBatches, n, 'limitBatches');
  return n === Number.POSITIVE_INFINITY ? undefined : n;
}

/**
 * Creates a trainer for a model, an optimizer, a loss and metrics. Metric names are typed from `metrics`, so event
 * logs such as `e.metrics.val_accuracy` are checked at compile time.
 *
 * @example
 * ```ts
 * const trainer = createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'], seed: 42 });
 * trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => console.log(e.epoch, e.metrics.val_accuracy));
 * const { history } = await trainer.fit({ x, y }, { epochs: 20, batchSize: 16, validation: { x: xVal, y: yVal } });
 * ```
 */
export function createTrainer<const S extends MetricSpec = never>(options: TrainerOptions<S>): Trainer<MetricNameOf<S>> {
  return new Trainer<MetricNameOf<S>>(options);
}

export type { EventOf };
