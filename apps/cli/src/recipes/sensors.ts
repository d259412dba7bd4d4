import * as tf from '@tensorflow/tfjs';
import { Random, createTrainer, fileSystem, withSeed, type LossSpec, type Plugin } from '@fitstream/core';
import { earlyStopping, terminateOnNaN } from '@fitstream/callbacks';
import { loadSensorAnomalies } from '@fitstream/datasets';
import { binaryFocalCrossentropy, classWeights, clipGradNorm, initOutputBias } from '@fitstream/regularisers';
import { z } from 'zod';
import { configSchema, type RunConfig } from '../config/schema.js';
import { EXIT } from '../exit.js';
import { experimentRecipeDefaults, interruptedOrThrow, startExperiment, throwIfInterrupted } from '../run/experiment.js';
import { fitSummary } from '../run/fit-summary.js';
import { formatNumber } from '../run/format.js';
import { callbackPlugins, defined } from '../run/plugins.js';
import { writeRunReport } from '../run/report.js';
import { writeJson } from '../run/run-directory.js';
import type { DetectionRecord, DetectionScores } from '../run/sections.js';
import { fitOptions } from '../run/fit-options.js';
import type { ExperimentRecipe, Io, TensorPair } from './recipe.js';
import { longestWindow, sensorFeatureNames, sensorFeatures, type SensorFeatureOptions } from './sensor-features.js';
import { fitStandardisation, standardise } from './tabular.js';

const LOSS_KINDS = ['focal', 'weighted', 'plain'] as const;
type LossKind = (typeof LOSS_KINDS)[number];

const data = z.strictObject({
  /** Motes whose readings form the validation split (the others train): a split by sensor, no reading shared. */
  validationMotes: z.array(z.int().min(1).max(4)).min(1).max(3),
  /** Trailing windows of the robust z-score features, in readings (≈ 5 s apart). */
  windows: z.array(z.int().min(3)).min(1),
  floors: z.strictObject({ humidity: z.number().positive(), temperature: z.number().positive() }),
  cache: z.boolean(),
});
const model = z.strictObject({ hiddenUnits: z.array(z.int().min(1)), activation: z.enum(['relu', 'tanh', 'elu']), initOutputBias: z.boolean() });
const loss = z.strictObject({
  /** `focal`: binary focal cross-entropy; `weighted`: cross-entropy with class weights; `plain`: unweighted cross-entropy. */
  kind: z.enum(LOSS_KINDS),
  gamma: z.number().min(0),
  alpha: z.number().gt(0).lt(1),
  /** Weight of the anomaly class for `weighted` (`'balanced'`: n / (2·count), from the training labels). */
  positiveWeight: z.union([z.literal('balanced'), z.number().positive()]),
});
const regularisers = z.strictObject({ clipGradNorm: z.union([z.number().positive(), z.literal(false)]) });
const schema = configSchema('sensors', [], data, model)
  .omit({ cv: true, lrFinder: true })
  .extend({
    loss,
    regularisers,
    /** A reading is flagged at `threshold` (probability); `baseline`: also train the plain network to compare with. */
    detection: z.strictObject({ threshold: z.number().gt(0).lt(1), baseline: z.boolean() }),
  });

export type SensorsConfig = z.infer<typeof schema>;

/** The anomaly class's precision, recall and F1 at a threshold on the predicted probability. */
export function detectionScores(probabilities: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): DetectionScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const flagged = probabilities[i]! >= threshold;
    if (flagged && labels[i]) tp++;
    else if (flagged) fp++;
    else if (labels[i]) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), truePositives: tp, falsePositives: fp, falseNegatives: fn };
}

interface Prepared {
  readonly train: TensorPair;
  readonly validation: TensorPair;
  readonly trainLabels: Uint8Array;
  readonly validationLabels: Uint8Array;
  readonly info: Record<string, unknown>;
}

async function prepare(config: SensorsConfig): Promise<Prepared> {
  const dataset = await loadSensorAnomalies({ cache: config.data.cache });
  const features: SensorFeatureOptions = { windows: config.data.windows, floors: config.data.floors };
  const split = { train: { rows: [] as number[][], labels: [] as number[], motes: [] as number[] }, validation: { rows: [] as number[][], labels: [] as number[], motes: [] as number[] } };
  for (const mote of dataset.motes) {
    const { rows, first } = sensorFeatures(mote, features);
    const part = config.data.validationMotes.includes(mote.moteId) ? split.validation : split.train;
    // A loop, not push(...rows): a mote has tens of thousands of readings, too many for call arguments.
    for (const row of rows) part.rows.push(row);
    for (const label of mote.label.subarray(first)) part.labels.push(label);
    part.motes.push(mote.moteId);
  }
  if (split.train.rows.length === 0) throw new Error('sensors: data.validationMotes leaves no mote to train on.');
  const positives = (labels: number[]) => labels.reduce((a, b) => a + b, 0);
  if (positives(split.train.labels) === 0 || positives(split.validation.labels) === 0) {
    throw new Error(`sensors: with validation motes [${config.data.validationMotes.join(', ')}] the ${positives(split.train.labels) === 0 ? 'training' : 'validation'} split has no anomaly; anomalies are on motes 1 and 4 — put one of them on each side.`);
  }
  const names = sensorFeatureNames(features);
  const rawTrain = tf.tensor2d(split.train.rows, [split.train.rows.length, names.length]);
  const rawValidation = tf.tensor2d(split.validation.rows, [split.validation.rows.length, names.length]);
  const standardisation = fitStandardisation(rawTrain);
  const train = { x: standardise(rawTrain, standardisation), y: tf.tensor2d(split.train.labels, [split.train.labels.length, 1]) };
  const validation = { x: standardise(rawValidation, standardisation), y: tf.tensor2d(split.validation.labels, [split.validation.labels.length, 1]) };
  tf.dispose([rawTrain, rawValidation]);
  return {
    train,
    validation,
    trainLabels: Uint8Array.from(split.train.labels),
    validationLabels: Uint8Array.from(split.validation.labels),
    info: {
      dataset: { ...dataset.metadata, cache: dataset.cache },
      split: {
        kind: 'by mote',
        train: { motes: split.train.motes, readings: split.train.labels.length, anomalies: positives(split.train.labels) },
        validation: { motes: split.validation.motes, readings: split.validation.labels.length, anomalies: positives(split.validation.labels) },
        droppedPerMote: longestWindow(features),
      },
      preprocessing: { features: names, windows: features.windows, floors: features.floors, transform: 'sign(z)·log(1 + |z|) of trailing robust z-scores', standardise: standardisation },
    },
  };
}

function buildModel(config: SensorsConfig, inputs: number, labels: Uint8Array): tf.LayersModel {
  const hidden = config.model.hiddenUnits;
  const model = withSeed(Random.fromSeed(config.seed).derive('model-init'), () =>
    tf.sequential({
      name: 'sensors_mlp',
      layers: [
        ...hidden.map((units, i) => tf.layers.dense({ name: `hidden${i + 1}`, ...(i === 0 ? { inputShape: [inputs] } : {}), units, activation: config.model.activation })),
        tf.layers.dense({ name: 'output', ...(hidden.length === 0 ? { inputShape: [inputs] } : {}), units: 1, activation: 'sigmoid' }),
      ],
    }),
  );
  // The same start for every loss: only the loss differs between the model and its plain baseline.
  if (config.model.initOutputBias) initOutputBias(model, { labels });
  return model;
}

/** The loss and the loss-shaping plugins of a kind, and gradient clipping. */
function lossSetup(config: SensorsConfig, kind: LossKind, labels: Uint8Array): { loss: LossSpec; plugins: Plugin[]; description: string } {
  const clip = config.regularisers.clipGradNorm;
  const plugins: Plugin[] = clip === false ? [] : [clipGradNorm(clip)];
  const clipped = clip === false ? '' : `, gradients clipped to global norm ${clip}`;
  if (kind === 'focal') {
    return { loss: binaryFocalCrossentropy({ gamma: config.loss.gamma, alpha: config.loss.alpha }), plugins, description: `binary focal cross-entropy (γ = ${config.loss.gamma}, α = ${config.loss.alpha})${clipped}` };
  }
  if (kind === 'weighted') {
    const w = config.loss.positiveWeight;
    return {
      loss: 'binaryCrossentropy',
      plugins: [...plugins, w === 'balanced' ? classWeights('balanced', { labels, classes: 2 }) : classWeights({ 0: 1, 1: w })],
      description: `binary cross-entropy with ${w === 'balanced' ? 'balanced' : `{ 0: 1, 1: ${w} }`} class weights${clipped}`,
    };
  }
  return { loss: 'binaryCrossentropy', plugins, description: `unweighted binary cross-entropy${clipped}` };
}

function probabilities(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x, { batchSize: 1024 }) as tf.Tensor).dataSync() as Float32Array);
}

/** The plain baseline: the same network, start, data and fit options, trained quietly with unweighted cross-entropy. */
async function trainPlainBaseline(config: SensorsConfig, prepared: Prepared): Promise<Float32Array> {
  const model = buildModel(config, prepared.train.x.shape[1]!, prepared.trainLabels);
  const { loss, plugins } = lossSetup(config, 'plain', prepared.trainLabels);
  const trainer = createTrainer({ model, optimizer: { name: config.optimizer, learningRate: config.lr }, loss, seed: config.seed, backend: 'current', log: null });
  for (const p of plugins) trainer.use(p);
  trainer.use(terminateOnNaN());
  if (config.callbacks.earlyStopping.enabled) {
    const { enabled: _e, ...rest } = config.callbacks.earlyStopping;
    trainer.use(earlyStopping(defined({ ...rest, log: null })));
  }
  try {
    const { handleSignals: _h, ...fit } = fitOptions(config as unknown as RunConfig, prepared.validation, undefined);
    const result = await trainer.fit(prepared.train, { ...fit, handleSignals: true });
    throwIfInterrupted(result);
    return probabilities(model, prepared.validation.x);
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

const describeScores = (s: DetectionScores) => `precision ${formatNumber(s.precision)}, recall ${formatNumber(s.recall)}, F1 ${formatNumber(s.f1)}`;

async function run(config: SensorsConfig, io: Io, options: { readonly json: boolean }) {
  const exp = await startExperiment(config, io, options.json);
  const runConfig = config as unknown as RunConfig; // the callbacks and fit sections are the shared ones
  const prepared = await prepare(config);
  await writeJson(exp.paths.data, prepared.info);
  const kind = config.loss.kind;
  const setup = lossSetup(config, kind, prepared.trainLabels);
  exp.log(`sensors: ${prepared.trainLabels.length} training readings (${prepared.trainLabels.reduce((a, b) => a + b, 0)} anomalies), ${prepared.validationLabels.length} validation readings (${prepared.validationLabels.reduce((a, b) => a + b, 0)} anomalies); loss: ${setup.description}`);

  const model = buildModel(config, prepared.train.x.shape[1]!, prepared.trainLabels);
  const trainer = createTrainer({ model, optimizer: { name: config.optimizer, learningRate: config.lr }, loss: setup.loss, seed: config.seed, backend: config.backend, log: io.err });
  for (const plugin of [...setup.plugins, ...callbackPlugins(runConfig, exp.runDir, exp.progress, io.err)]) trainer.use(plugin);
  try {
    const result = await trainer.fit(prepared.train, fitOptions(runConfig, prepared.validation, exp.paths.checkpoints));
    throwIfInterrupted(result);
    await trainer.saveCheckpoint(exp.paths.model);
    const restored = await tf.loadLayersModel(fileSystem(exp.paths.model));
    restored.dispose();

    const threshold = config.detection.threshold;
    const labels = prepared.validationLabels;
    const scores = detectionScores(probabilities(model, prepared.validation.x), labels, threshold);
    // The plain model is the trained model when the loss is plain already.
    const plain = kind === 'plain' ? scores : config.detection.baseline ? detectionScores(await trainPlainBaseline(config, prepared), labels, threshold) : undefined;
    const evaluation = {
      split: 'validation',
      samples: labels.length,
      metrics: { loss: result.final?.['val_loss'] ?? Number.NaN, precision: scores.precision, recall: scores.recall, f1: scores.f1 },
      confusion: {
        classNames: ['normal', 'anomaly'],
        matrix: [
          [labels.length - scores.truePositives - scores.falsePositives - scores.falseNegatives, scores.falsePositives],
          [scores.falseNegatives, scores.truePositives],
        ],
      },
    };
    await writeJson(exp.paths.evaluation, evaluation);
    const validationMotes = (prepared.info['split'] as { validation: { motes: number[] } }).validation.motes;
    const detection: DetectionRecord = {
      split: `validation split (mote${validationMotes.length > 1 ? 's' : ''} ${validationMotes.join(', ')})`,
      samples: labels.length,
      positives: labels.reduce((a, b) => a + b, 0),
      threshold,
      loss: setup.description,
      models: { [kind === 'plain' ? 'plain' : `${kind} (model)`]: scores, ...(plain && kind !== 'plain' ? { 'plain (baseline)': plain } : {}) },
    };
    await writeJson(exp.paths.detection, detection);
    await writeRunReport(exp.runDir);

    const summary = {
      ...fitSummary(exp.runDir, result, { ...(result.final ?? {}), precision: scores.precision, recall: scores.recall, f1: scores.f1 }, evaluation.metrics),
      anomaly: { loss: kind, threshold, samples: detection.samples, positives: detection.positives, model: scores, ...(plain ? { plain } : {}) },
    };
    exp.log(`done: ${summary.reason}, ${summary.epochs} epochs on ${result.backend}; anomaly class on the validation motes: ${kind} ${describeScores(scores)}` + (plain && kind !== 'plain' ? `; plain ${describeScores(plain)}` : ''));
    exp.log(`run directory: ${exp.runDir}`);
    exp.log(`model: ${exp.paths.model}; report: ${exp.paths.report}`);
    return { code: EXIT.ok, summary };
  } catch (error) {
    return interruptedOrThrow(error, exp.runDir, io);
  } finally {
    trainer.dispose();
    model.dispose();
    tf.dispose([prepared.train.x, prepared.train.y, prepared.validation.x, prepared.validation.y]);
  }
}

/**
 * `fitstream train sensors`: anomaly detection on the labelled single-hop sensor network data (0.8% anomalies): an
 * MLP on trailing-window robust z-scores of humidity and temperature, split by mote, trained with focal loss or class
 * weights (`loss.kind`) and gradient clipping (@fitstream/regularisers), next to the same network trained with plain
 * cross-entropy. Reports the anomaly class's precision, recall and F1 of both.
 */
// The fields every experiment recipe declares (alike in shape across recipes); the steps they share are in run/.
export const sensors: ExperimentRecipe<SensorsConfig> = {
  kind: 'experiment',
  name: 'sensors',
  summary: 'sensor network anomalies: classifier on trailing-window features, focal loss or class weights vs plain',
  schema: schema as unknown as z.ZodType<SensorsConfig>,
  defaults: () =>
    experimentRecipeDefaults<SensorsConfig>('sensors', {
      epochs: 10,
      batchSize: 64,
      lr: 0.005,
      data: { validationMotes: [4], windows: [20, 120], floors: { humidity: 0.1, temperature: 0.05 }, cache: true },
      model: { hiddenUnits: [16], activation: 'relu', initOutputBias: true },
      loss: { kind: 'focal', gamma: 2, alpha: 0.75, positiveWeight: 'balanced' },
      regularisers: { clipGradNorm: 1 },
      detection: { threshold: 0.5, baseline: true },
    }),
  run,
};
