import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendSelection } from '@fitstream/backends';
import { snapshotCheckpoint, type CheckpointSnapshot, type CheckpointStateInput, type Json } from '@fitstream/checkpoint';
import { createChildContainer, type DependencyContainer } from '../di/container.js';
import { resolveAll } from '../di/token.js';
import { createEventChannel, type EventChannel } from '../events/event-stream.js';
import type { TrainerEvent, TrainerEventMap, TrainerEventType } from '../events/event-map.js';
import type { TrainName } from '../events/metric-names.js';
import type { LearningRatePipeline } from '../learning-rate/learning-rate-pipeline.js';
import { resolvePluginPoints } from '../plugin/plugin-point-registry.js';
import { StateProvider, type WeightView } from '../plugin/plugin-points.js';
import type { Plugin } from '../plugin/plugin.js';
import { FitstreamInputError, Random } from '@fitstream/util';
import { resolveTrainerOptions } from './compiled-model.js';
import type { TrainerOptions } from './trainer-options.js';
import { createSource, isTensorData, tensorsIn, validateBatch, type BatchSource, type DataSource, type TensorData } from './data.js';
import type { EpochAggregate } from './epoch-aggregate.js';
import { copyHistory, type MutableHistory } from './history.js';
import { NO_HEADS, resolveHeads, type Heads } from './heads.js';
import { adaptModel, type ModelAdapter } from '../model/model.js';
import { getLearningRate } from '@fitstream/optimizers';
import { assertTrainStep, type TrainStep } from './train-step.js';
import { MAIN_MODEL, resolveModels, resolveOptimizers, type NamedOptimizer } from './trainer-parts.js';

/** Where the loop is: the epoch, the batches of it already in the weights, the global step. */
export interface LoopState {
  epoch: number;
  /** Batches of `epoch` already trained. */
  batch: number;
  step: number;
}

/**
 * What a trainer is made of, shared by its fits, evaluations and checkpoints: the model, optimizer, loss and metrics,
 * the seeded random root, the learning-rate pipeline, the DI container and plugins, and the event channel.
 */
export class TrainerCore<M extends string> {
  readonly model: ModelAdapter;
  /** Every model by name: the main one under `model`, then the `models` option's. */
  readonly models: ReadonlyMap<string, ModelAdapter>;
  /** The main optimizer (the first of `optimizers`). */
  readonly optimizer: tf.Optimizer;
  /** Every optimizer by name, each with its learning-rate pipeline, in option order. */
  readonly optimizers: readonly NamedOptimizer[];
  /** The model's outputs as they are scored: losses, weights, metrics (none with a custom step and no `loss`). */
  readonly heads: Heads;
  /** The user's step, when it replaces the default one. */
  readonly trainStep: TrainStep | undefined;
  readonly metricNames: readonly TrainName<M>[];
  readonly seed: number | string;
  readonly random: Random;
  /** The main optimizer's learning-rate pipeline. */
  readonly lr: LearningRatePipeline;
  readonly channel: EventChannel<M> = createEventChannel<M>();
  readonly container: DependencyContainer = createChildContainer();
  readonly plugins: Plugin<M>[] = [];
  private backendSelection: BackendSelection | undefined;
  /** Tensor ids (x…, y) whose values were already checked for NaN/Inf and label ranges. */
  private readonly checkedData = new Set<string>();

  /** The options in force: createTrainer's, with what a compiled model brings where they name nothing. */
  readonly options: TrainerOptions;

  constructor(given: TrainerOptions) {
    if (given == null || typeof given !== 'object') throw new FitstreamInputError('options', 'createTrainer(options) needs options: at least { model, optimizer, loss }.');
    const options = (this.options = resolveTrainerOptions(given));
    this.model = adaptModel(options.model);
    if (options.optimizer == null) throw new FitstreamInputError('optimizer', "is required: a name such as 'adam' or a tf.train.* instance (or compile the model with one).");
    if (options.loss == null && !options.trainStep) throw new FitstreamInputError('loss', "is required: a name such as 'categoricalCrossentropy' or { name, fn } (or a trainStep that computes its own).");
    this.models = resolveModels(this.model, options.models);
    if (options.trainStep) assertTrainStep(options.trainStep);
    this.trainStep = options.trainStep;
    this.heads = options.loss == null ? NO_HEADS : resolveHeads(this.model.outputNames, options.loss, options.metrics, options.lossWeights);
    this.optimizers = resolveOptimizers(options.optimizer);
    if (this.optimizers.length > 1 && !this.trainStep) throw new FitstreamInputError('optimizer', `names ${this.optimizers.length} optimizers but the default step uses one; pass one optimizer, or a trainStep that uses them (ctx.minimize(name, loss)).`);
    this.optimizer = this.optimizers[0]!.optimizer;
    this.lr = this.optimizers[0]!.lr;
    this.seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.random = Random.fromSeed(this.seed);
    this.metricNames = (this.trainStep ? ['loss', ...this.trainStep.metrics] : this.heads.metricNames) as readonly TrainName<M>[];
  }

  get learningRate(): number {
    return getLearningRate(this.optimizer);
  }

  emit<K extends TrainerEventType>(type: K, payload: TrainerEventMap<M>[K]): void {
    this.channel.emit({ type, time: Date.now(), ...payload } as unknown as TrainerEvent<M>);
  }

  log(line: string): void {
    if (this.options.log === null) return;
    (this.options.log ?? ((l: string) => console.error(l)))(line);
  }

  /** Selects the backend (once, or again when the preferred one changed) and publishes `backend:selected`. */
  async ensureBackend(): Promise<string> {
    const prefer = this.options.backend ?? 'auto';
    if (prefer === 'current') {
      await tf.ready();
      if (!this.backendSelection) {
        this.backendSelection = { backend: tf.getBackend(), candidate: 'cpu', fallbacks: [], message: `fitstream: backend ${tf.getBackend()} (current)`, wasmKernels: undefined, wasmKernelsMissing: undefined };
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

  /**
   * Checks in-memory data; the value checks (one device read over the whole data) run once per tensor pair, since
   * tfjs tensors are immutable and fits often repeat over the same data (an epoch per call, cross-validation).
   */
  validateTensors(data: TensorData, argument: string, checkValues: boolean): void {
    const inputs = data.x instanceof tf.Tensor ? [data.x] : [...data.x];
    const key = [...inputs, ...tensorsIn(data.y)].map((t) => t.id).join(',');
    const seen = checkValues && this.checkedData.has(key);
    validateBatch({ x: data.x, y: data.y }, { model: this.model, heads: this.heads, customStep: this.trainStep !== undefined }, argument, checkValues && !seen);
    if (checkValues) this.checkedData.add(key);
  }

  /** An unshuffled source over evaluation data, checked like training data. */
  evaluationSource(data: DataSource, batchSize: number, argument: string): BatchSource {
    const source = createSource(data, { batchSize, shuffle: false, dropLast: false, random: this.random }, argument);
    if (isTensorData(data)) this.validateTensors(data, argument, true);
    return source;
  }

  /** The registered weight view (EMA, SWA …) when it applies to `use`. */
  private weightView(use: 'evaluation' | 'checkpoints'): WeightView | undefined {
    const view = resolvePluginPoints(this.container).weightView;
    return view?.[use] ? view : undefined;
  }

  /** Runs `task` with the weight view applied when one is registered for `use`; puts the trained weights back after. */
  async withWeightView<T>(use: 'evaluation' | 'checkpoints', task: () => Promise<T>): Promise<T> {
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
  checkpointSnapshot(state: CheckpointStateInput): CheckpointSnapshot {
    const restore = this.weightView('checkpoints')?.apply();
    try {
      return snapshotCheckpoint({
        model: this.model,
        optimizer: this.optimizer,
        state,
        pluginTensors: this.pluginTensors(),
        models: new Map([...this.models].filter(([name]) => name !== MAIN_MODEL)),
        optimizers: new Map(this.optimizers.slice(1).map((o) => [o.name, o.optimizer])),
      });
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

  /** The loop state of a checkpoint: position, rate, PRNG, partial epoch sums, history and every plugin's state. */
  checkpointState(position: LoopState, aggregate: EpochAggregate | undefined, history: MutableHistory, fit: NonNullable<CheckpointStateInput['fit']>): CheckpointStateInput {
    const plugins: Record<string, Json> = {};
    for (const provider of resolvePluginPoints(this.container).stateProviders) plugins[provider.key] = provider.getState();
    return {
      epoch: position.epoch,
      batch: position.batch,
      step: position.step,
      learningRate: this.learningRate,
      learningRatePipeline: this.lr.record(),
      ...(this.optimizers.length > 1 ? { learningRatePipelines: Object.fromEntries(this.optimizers.slice(1).map((o) => [o.name, o.lr.record()])) } : {}),
      random: this.random.getState(),
      aggregate:
        aggregate && aggregate.batches > 0
          ? { names: [...this.metricNames], sums: aggregate.readSums(), samples: aggregate.samples, batches: aggregate.batches }
          : null,
      history: copyHistory(history),
      plugins,
      fit,
    };
  }
}
