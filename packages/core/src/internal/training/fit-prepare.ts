import * as tf from '@tensorflow/tfjs';
import { readCheckpoint, type CheckpointStateInput, type LoadedCheckpoint } from '@fitstream/checkpoint';
import { assignWeights, restoreOptimizer, restoreParts, withoutTrainer } from '../checkpoint/restore-checkpoint.js';
import type { OwnedClaim } from '../plugin/conflicts.js';
import { pluginClaims, resolvePluginPoints, type ResolvedPluginPoints } from '../plugin/plugin-point-registry.js';
import { resolveAll } from '../di/token.js';
import { IndexSampler, type BatchTransform, type StateProvider } from '../plugin/plugin-points.js';
import { createSource, isTensorData, type BatchSource, type DataExpectations, type DataSource } from './data.js';
import { EpochAggregate } from './epoch-aggregate.js';
import { disposedWeight } from '../model/model.js';
import { leafLayers } from '../model/leaf-layers.js';
import { FitstreamInputError } from '@fitstream/util';
import { normaliseFitOptions, type FitOptions, type NormalisedFitOptions } from './fit-options.js';
import { copyHistory, emptyHistory, type MutableHistory } from './history.js';
import { orderGradientTransforms, type StepPlugins } from './step-pipeline.js';
import type { LoopState, TrainerCore } from './trainer-core.js';

/** Everything a fit needs once it is prepared: options, plugins, data sources, and where the loop starts. */
export interface PreparedFit {
  readonly opts: NormalisedFitOptions;
  readonly backend: string;
  readonly points: ResolvedPluginPoints;
  readonly step: StepPlugins;
  /** Batch transforms that also apply to validation. */
  readonly validationTransforms: readonly BatchTransform[];
  readonly train: BatchSource;
  readonly validation: BatchSource | undefined;
  readonly expect: DataExpectations;
  /** What the checkpoint records of the fit's shape (a resume must match it). */
  readonly fitShape: NonNullable<CheckpointStateInput['fit']>;
  readonly position: LoopState;
  readonly history: MutableHistory;
  /** The epoch's device sums (restored mid-epoch on resume). */
  readonly aggregate: EpochAggregate;
  readonly resumedFrom: string | undefined;
}

/** The prepare phase: options, backend, plugin points and conflicts, data sources, and resume. */
export async function prepareFit<M extends string>(core: TrainerCore<M>, data: DataSource, options: FitOptions): Promise<PreparedFit> {
  const opts = normaliseFitOptions(options);
  assertModelUsable(core);
  const backend = await core.ensureBackend();
  const points = resolvePoints(core, data, options, opts);
  const sampler = isTensorData(data) && !opts.overfitBatches ? points.indexSampler : undefined;
  const step: StepPlugins = {
    batchTransforms: points.batchTransforms,
    lossTransforms: points.lossTransforms,
    gradientTransforms: orderGradientTransforms(points.gradientTransforms),
    weightConstraints: points.weightConstraints,
    learningRateMultipliers: points.learningRateMultipliers,
  };
  beginLearningRates(core, points);
  assertStepFits(core, opts, points);

  // Data: sources, shape checks (no sync) and value checks (one read for in-memory data).
  const train = createSource(data, { batchSize: opts.batchSize, shuffle: opts.shuffle && !opts.overfitBatches, dropLast: opts.dropLast, random: core.random, sampler }, 'data');
  if (isTensorData(data)) core.validateTensors(data, 'data', opts.checkData !== 'never');
  const validation = opts.validation ? core.evaluationSource(opts.validation, opts.validationBatchSize ?? opts.batchSize, 'options.validation') : undefined;
  if (sampler && (options.shuffle !== undefined || options.dropLast !== undefined)) {
    core.log(`fitstream: sampler "${sampler.name}" plans the batches; the fit options shuffle/dropLast are ignored.`);
  }

  const prepared: PreparedFit = {
    opts,
    backend,
    points,
    step,
    validationTransforms: step.batchTransforms.filter((t) => t.applyTo === 'train-and-validation'),
    train,
    validation,
    expect: { model: core.model, heads: core.heads, customStep: core.trainStep !== undefined },
    fitShape: { epochs: opts.epochs, batchSize: opts.batchSize, accumulateBatches: opts.accumulateBatches, shuffle: opts.shuffle },
    position: { epoch: opts.initialEpoch, batch: 0, step: 0 },
    history: emptyHistory(),
    aggregate: new EpochAggregate(core.metricNames.length),
    resumedFrom: undefined,
  };
  // An explicit resumeFrom wins; otherwise a ResumeSource plugin (an interrupted run's backup) may name one.
  const resumeFrom = opts.resumeFrom ?? (await points.resumeSource?.find());
  if (!resumeFrom) return prepared;
  try {
    return await resume(core, prepared, resumeFrom, sampler);
  } catch (error) {
    prepared.aggregate.dispose();
    throw error;
  }
}

/** Binds each optimizer's learning-rate pipeline to the schedules and modifiers that apply to it. */
function beginLearningRates<M extends string>(core: TrainerCore<M>, points: ResolvedPluginPoints): void {
  const names = core.optimizers.map((o) => o.name);
  for (const target of [...points.learningRateBase, ...points.learningRateModifiers]) {
    if (target.optimizer !== undefined && !names.includes(target.optimizer)) {
      throw new FitstreamInputError(`"${target.name}".optimizer`, `names "${target.optimizer}", which is not one of the trainer's optimizers (${names.map((n) => `"${n}"`).join(', ')}).`);
    }
  }
  for (const { name, lr } of core.optimizers) {
    const applies = (t: { readonly optimizer?: string }) => t.optimizer === undefined || t.optimizer === name;
    const bases = points.learningRateBase.filter(applies);
    lr.begin(bases.find((b) => b.optimizer === name) ?? bases[0], points.learningRateModifiers.filter(applies));
  }
}

/** What a custom train step cannot do: accumulate batches, reduce gradients across replicas, validate without `evaluate`. */
function assertStepFits<M extends string>(core: TrainerCore<M>, opts: NormalisedFitOptions, points: ResolvedPluginPoints): void {
  const step = core.trainStep;
  if (!step) return;
  if (opts.accumulateBatches !== 1) throw new FitstreamInputError('options.accumulateBatches', `a custom trainStep ("${step.name}") applies its own updates on each batch; accumulate inside it, or drop accumulateBatches.`);
  const reducer = points.gradientTransforms.find((t) => (t.stage ?? 'post-reduce') !== 'post-reduce');
  if (reducer) {
    throw new FitstreamInputError('trainStep', `"${reducer.name}" averages the default step's gradients across replicas and cannot reach inside trainStep "${step.name}"; use model averaging (localSGD or easgd from @fitstream/distributed) instead.`);
  }
  if (opts.validation && !step.evaluate) throw new FitstreamInputError('options.validation', `trainStep "${step.name}" has no evaluate(batch, ctx); add one to validate, or drop options.validation.`);
}

/**
 * A model the loop cannot train: disposed (`model.dispose()` before the fit), or a stateful RNN without the plugin
 * that keeps its batch order, its fixed batch size and its state (`statefulRnn` of @fitstream/time-series).
 */
function assertModelUsable<M extends string>(core: TrainerCore<M>): void {
  const disposed = disposedWeight(core.model);
  if (disposed !== undefined) {
    throw new FitstreamInputError('model', `${core.model.label} is disposed (weight "${disposed}"): build or load the model again and create a new trainer; call model.dispose() only after trainer.fit() resolves.`);
  }
  const layers = core.model.layersModel;
  const stateful = layers ? leafLayers(layers).find(({ layer }) => (layer as unknown as { stateful?: unknown }).stateful === true) : undefined;
  const sequential = core.plugins.some((p) => p.claims?.some((c) => c.resource === 'batch-order' && c.value === 'sequential'));
  if (stateful && !sequential) {
    throw new FitstreamInputError(
      'model',
      `${core.model.label} has a stateful RNN layer ("${stateful.layer.name}"), which the default loop would feed in shuffled order and reset never; ` +
        'train it with the statefulRnn plugin of @fitstream/time-series: trainer.use(statefulRnn({ model, data })), data laid out with statefulData().',
    );
  }
}

/** Resolves and checks every plugin point with the fit's own claims (the trainer's shuffling owns the batch order). */
function resolvePoints<M extends string>(core: TrainerCore<M>, data: DataSource, options: FitOptions, opts: NormalisedFitOptions): ResolvedPluginPoints {
  const claims: OwnedClaim[] = [];
  const hasSampler = resolveAll(core.container, IndexSampler).length > 0;
  // With a sampler only an explicit `shuffle: true` claims the order (refused next to a sequential sampler, never ignored).
  if ((hasSampler ? options.shuffle === true : opts.shuffle) && isTensorData(data) && !opts.overfitBatches) {
    claims.push({ resource: 'batch-order', value: 'shuffled', owner: 'the trainer (fit option shuffle: true)' });
  }
  return resolvePluginPoints(core.container, pluginClaims(core.plugins), claims);
}

/** Restores weights, optimizer, position, rate, history, epoch sums and every plugin's state from a checkpoint. */
async function resume<M extends string>(core: TrainerCore<M>, prepared: PreparedFit, path: string, sampler: IndexSampler | undefined): Promise<PreparedFit> {
  // A newer checkpoint that does not verify falls back to the previous good one, and the log says so.
  let skipped = 0;
  const loaded = await readCheckpoint(path, {
    onSkip: ({ path: bad, error }) => {
      skipped++;
      core.log(`fitstream: skipping checkpoint ${bad}: ${error.message}`);
    },
  });
  if (skipped > 0) core.log(`fitstream: resuming from the previous good checkpoint ${loaded.path}.`);
  try {
    assignWeights(core.model, loaded.weights, `Checkpoint ${loaded.path}`);
    await restoreOptimizer(core.optimizer, loaded, core.model);
    await restoreParts(loaded, core.models, new Map(core.optimizers.slice(1).map((o) => [o.name, o.optimizer])));
  } finally {
    tf.dispose(Object.values(loaded.weights));
    tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
    tf.dispose(Object.values(loaded.parts.models).flatMap((m) => Object.values(m)));
    tf.dispose(Object.values(loaded.parts.optimizers).flatMap((o) => o.map((w) => w.tensor)));
  }
  const { opts } = prepared;
  const s = loaded.state;
  const fit = s.fit;
  if (!fit) throw withoutTrainer(loaded.path);
  // With a sampler the order is the sampler's (its StateProvider checks its own settings), not the shuffle flag.
  if (fit.batchSize !== opts.batchSize || fit.accumulateBatches !== opts.accumulateBatches || (!sampler && fit.shuffle !== opts.shuffle)) {
    throw new FitstreamInputError('options', `resuming ${loaded.path} needs the options it was written with (batchSize ${fit.batchSize}, accumulateBatches ${fit.accumulateBatches}, shuffle ${fit.shuffle}); got batchSize ${opts.batchSize}, accumulateBatches ${opts.accumulateBatches}, shuffle ${opts.shuffle}.`);
  }
  if (JSON.stringify(s.random.key) !== JSON.stringify(core.random.getState().key)) {
    throw new FitstreamInputError('seed', `the checkpoint ${loaded.path} was written by a trainer with another seed; create the trainer with the same seed to resume exactly.`);
  }
  core.lr.restore(s.learningRatePipeline, s.learningRate);
  for (const o of core.optimizers.slice(1)) o.lr.restore(s.learningRatePipelines?.[o.name], s.learningRate);
  if (s.aggregate && s.batch > 0) prepared.aggregate.restore(s.aggregate.sums, s.aggregate.samples, s.aggregate.batches);
  restorePluginState(prepared.points.stateProviders, loaded);
  return { ...prepared, position: { epoch: s.epoch, batch: s.batch, step: s.step }, history: copyHistory(s.history), resumedFrom: loaded.path };
}

function restorePluginState(stateProviders: readonly StateProvider[], loaded: LoadedCheckpoint): void {
  const providers = new Map(stateProviders.map((p) => [p.key, p]));
  for (const [key, value] of Object.entries(loaded.state.plugins)) providers.get(key)?.setState(value);
  try {
    for (const [key, tensors] of Object.entries(loaded.pluginTensors)) {
      const provider = providers.get(key);
      if (!provider?.setTensors) throw new Error(`Checkpoint ${loaded.path} holds tensors of plugin "${key}", which this trainer does not use; add it to resume exactly.`);
      provider.setTensors(tensors);
    }
  } finally {
    for (const tensors of Object.values(loaded.pluginTensors)) tf.dispose(Object.values(tensors));
  }
}
