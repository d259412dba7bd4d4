import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, LossTransform, provide, type Plugin } from '@fitstream/core';
import { nonNegative } from '../assert.js';
import type { LossReduction } from '../report/events.js';
import { DeviceAccumulator, reportAccumulated, resolveReport, type ReportSetting } from '../report/reporter.js';
import { actsOn, checkOutputChoice, outputNamesOf, outputOption, withOutput, type OutputChoice } from './output-choice.js';

/** Class weights by class index: a record `{ 0: 1, 1: 50 }` or an array `[1, 50]`. Missing classes weigh 1. */
export type ClassWeightMap = Readonly<Record<number, number>> | readonly number[];

/** Labels to count classes from: one-hot `[n, K]`, sparse `[n]`/`[n, 1]` or binary 0/1 targets, or plain numbers. */
export type LabelSource = tf.Tensor | ArrayLike<number>;

/** Class index per sample: argmax of one-hot rows, otherwise rounded values (Keras' rule for `class_weight`). */
export function classIndices(y: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    if (y.rank >= 2 && y.shape[y.rank - 1]! > 1) {
      if (y.rank > 2) throw new FitstreamInputError('classWeights', `targets of shape [${y.shape.join(', ')}] have more than one class per sample; class weights need one class per sample ([batch], [batch, 1] or one-hot [batch, K]).`);
      return tf.cast(tf.argMax(y, -1), 'int32') as tf.Tensor1D;
    }
    if (y.rank > 2) throw new FitstreamInputError('classWeights', `targets of shape [${y.shape.join(', ')}] have more than one class per sample.`);
    return tf.cast(tf.round(tf.reshape(tf.cast(y, 'float32'), [-1])), 'int32') as tf.Tensor1D;
  });
}

function countClasses(labels: LabelSource, classes: number | undefined): number[] {
  let ids: ArrayLike<number>;
  let k = classes;
  if (labels instanceof tf.Tensor) {
    if (labels.rank >= 2 && labels.shape[labels.rank - 1]! > 1) k ??= labels.shape[labels.rank - 1]!;
    const t = classIndices(labels);
    ids = t.dataSync();
    t.dispose();
  } else ids = Array.from(labels, (v) => Math.round(v));
  let max = -1;
  for (let i = 0; i < ids.length; i++) {
    const c = ids[i]!;
    if (!Number.isInteger(c) || c < 0) throw new FitstreamInputError('labels', `class indices must be integers ≥ 0; sample ${i} has ${c}.`);
    max = Math.max(max, c);
  }
  k ??= max + 1;
  if (max >= k) throw new FitstreamInputError('labels', `class ${max} is out of range for ${k} classes.`);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < ids.length; i++) counts[ids[i]!]! += 1;
  return counts;
}

/**
 * scikit-learn's `compute_class_weight('balanced')`: `n / (k · count_c)` for every class present (k = classes present);
 * a class absent from the labels gets weight 1.
 *
 * @example
 * ```ts
 * balancedClassWeights([0, 0, 0, 1]); // [4 / (2·3), 4 / (2·1)] = [0.667, 2]
 * ```
 */
export function balancedClassWeights(labels: LabelSource, options: { readonly classes?: number } = {}): number[] {
  const counts = countClasses(labels, options.classes);
  const n = counts.reduce((a, b) => a + b, 0);
  if (n === 0) throw new FitstreamInputError('labels', 'are empty; pass the training labels.');
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? n / (present * c) : 1));
}

/** Class counts of labels (one-hot, sparse or binary). @example `classCounts([0, 1, 1])` → `[1, 2]` */
export function classCounts(labels: LabelSource, options: { readonly classes?: number } = {}): number[] {
  return countClasses(labels, options.classes);
}

function weightVector(weights: ClassWeightMap): number[] {
  const entries: [number, number][] = Array.isArray(weights)
    ? (weights as readonly number[]).map((w, i) => [i, w])
    : Object.entries(weights as Record<string, number>).map(([k, w]) => [Number(k), w]);
  if (entries.length === 0) throw new FitstreamInputError('classWeights', 'got no weights; pass e.g. { 0: 1, 1: 10 } or "balanced".');
  const size = Math.max(...entries.map(([k]) => k)) + 1;
  const vector = new Array<number>(size).fill(1);
  for (const [k, w] of entries) {
    if (!Number.isInteger(k) || k < 0) throw new FitstreamInputError('classWeights', `keys must be class indices (integers ≥ 0), got "${k}".`);
    vector[k] = nonNegative(w, `classWeights[${k}]`);
  }
  return vector;
}

/** Options of {@link classWeights}. */
export interface ClassWeightsOptions {
  /** Training labels, required for `'balanced'`. */
  readonly labels?: LabelSource;
  /** Number of classes for `'balanced'` with sparse labels (default: the largest label + 1). */
  readonly classes?: number;
  /**
   * How the weighted per-sample losses become the batch loss: `'sum_over_batch_size'` (default, Keras' default:
   * `Σ wℓ / n`, so weights also scale the effective learning rate) or `'mean_with_weights'` (`Σ wℓ / Σ w`). `w` is the
   * class weight times the data's `sampleWeight`.
   */
  readonly reduction?: LossReduction;
  /**
   * The output whose loss is weighted, by name (`<output>_loss`), for a model with several outputs: the class weights
   * apply to that output's targets and loss only. Required when the model has several outputs (Keras 3 applies
   * `class_weight` to single-output models only); optional otherwise (then it must name the one output).
   */
  readonly output?: string;
  /** The plugin's name (default `'class-weights'`, or `'class-weights:<output>'` with `output`, so one per output can be used). */
  readonly name?: string;
  /** `regulariser:report` (kind `'loss-weighting'`): `meanWeight` of the last batch; lazy. */
  readonly report?: ReportSetting;
}

function reductionOf(value: unknown, where: string): LossReduction {
  const r = value ?? 'sum_over_batch_size';
  if (r !== 'sum_over_batch_size' && r !== 'mean_with_weights') {
    throw new FitstreamInputError(`${where}: reduction`, `must be 'sum_over_batch_size' or 'mean_with_weights', got ${String(value)}.`);
  }
  return r;
}

function weightingPlugin(name: string, vector: number[] | undefined, reduction: LossReduction, report: ReportSetting, choice: OutputChoice): Plugin {
  const reporting = resolveReport(report, `${name}: report`);
  const accumulator = new DeviceAccumulator(['meanWeight'] as const, ['last']);
  return {
    name,
    // One plugin decides how an output's weighted losses are reduced: two would each normalise by a different Σw.
    // Plugins restricted to different outputs share the resource; one acting on every output excludes them all.
    claims:
      choice.output === undefined
        ? [{ resource: 'loss-weighting', exclusive: true }]
        : [
            { resource: 'loss-weighting', value: 'per-output' },
            { resource: `loss-weighting:${choice.output}`, exclusive: true },
          ],
    register: (c) =>
      provide(c, LossTransform, {
        name,
        perSample: (losses, ctx) => {
          if (!actsOn(choice, ctx)) return losses;
          const n = losses.shape[0];
          let classWeight: tf.Tensor1D | undefined;
          if (vector) {
            const ids = classIndices(ctx.yTrue);
            const size = vector.length;
            const inRange = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, size));
            classWeight = tf.where(inRange, tf.gather(tf.tensor1d(vector), tf.clipByValue(ids, 0, size - 1)), tf.onesLike(ids).toFloat()) as tf.Tensor1D;
          }
          const sampleWeight = ctx.sampleWeight;
          let out = classWeight ? (tf.mul(losses, classWeight) as tf.Tensor1D) : losses;
          const weights = classWeight && sampleWeight ? tf.mul(classWeight, sampleWeight) : (classWeight ?? sampleWeight);
          if (reduction === 'mean_with_weights' && weights) out = tf.mul(out, tf.divNoNan(tf.scalar(n), tf.sum(weights))) as tf.Tensor1D;
          if (reporting.every > 0) accumulator.record([weights ? tf.mean(weights) : tf.scalar(1)]);
          return out;
        },
      }),
    attach: (events$, control) => {
      // Refused when the fit starts, before any step, rather than inside the first one.
      checkOutputChoice(choice, outputNamesOf(control.model));
      return reportAccumulated(events$, control, accumulator, {
        name,
        report: reporting,
        body: (values) => ({ kind: 'loss-weighting', reduction, values }),
      });
    },
  };
}

/**
 * Weights each sample's training loss by the weight of its class (Keras `class_weight`): the class is the argmax of
 * one-hot targets, or the rounded target (binary/sparse). Classes missing from the map weigh 1 (Keras 3; tfjs-layers
 * throws). `'balanced'` computes `n / (k · count)` from `options.labels` (scikit-learn). Combined with the data's
 * `sampleWeight`, the two **multiply** (tf.keras 2; Keras 3 refuses the combination). Training only: validation losses
 * stay unweighted (sample-weighted by the data's `sampleWeight` only), so they compare across runs. A model with
 * several outputs needs `output`, the name of the output to weight (its `<output>_loss` changes, the others do not);
 * without it the plugin refuses the fit with a `FitstreamInputError` listing the outputs.
 *
 * @example
 * ```ts
 * trainer.use(classWeights({ 0: 1, 1: 50 }));
 * trainer.use(classWeights('balanced', { labels: yTrain, reduction: 'mean_with_weights' }));
 * trainer.use(classWeights({ 0: 1, 1: 5 }, { output: 'species' })); // a multi-output model: weight one output
 * ```
 */
export function classWeights(weights: ClassWeightMap | 'balanced', options: ClassWeightsOptions = {}): Plugin {
  const choice: OutputChoice = { plugin: 'classWeights', output: outputOption(options.output, 'classWeights'), scope: 'one', verb: 'weight' };
  const name = options.name ?? withOutput('class-weights', choice.output);
  let vector: number[];
  if (weights === 'balanced') {
    if (options.labels === undefined) throw new FitstreamInputError('classWeights', "'balanced' needs the training labels: classWeights('balanced', { labels: yTrain }).");
    vector = balancedClassWeights(options.labels, options.classes === undefined ? {} : { classes: options.classes });
  } else {
    if (weights == null || typeof weights !== 'object') throw new FitstreamInputError('classWeights', "expects a map { class: weight }, an array, or 'balanced'.");
    vector = weightVector(weights);
  }
  return weightingPlugin(name, vector, reductionOf(options.reduction, name), options.report, choice);
}

/**
 * Names the reduction of sample-weighted losses (the data's `sampleWeight`, which core multiplies in):
 * `'mean_with_weights'` divides `Σ wℓ` by `Σ w` instead of the batch size (`'sum_over_batch_size'`, core's default).
 * Use `classWeights(…, { reduction })` when you also weight classes (the two plugins cannot be combined). With several
 * outputs each output's losses are reduced with its own weights (Keras 3 reduces each output's loss); `output`
 * restricts the reduction to one output, by name.
 *
 * @example
 * ```ts
 * trainer.use(sampleWeightReduction('mean_with_weights'));
 * await trainer.fit({ x, y, sampleWeight }, { epochs: 10 });
 * ```
 */
export function sampleWeightReduction(reduction: LossReduction, options: { readonly name?: string; readonly report?: ReportSetting; readonly output?: string } = {}): Plugin {
  const choice: OutputChoice = { plugin: 'sampleWeightReduction', output: outputOption(options.output, 'sampleWeightReduction'), scope: 'every', verb: 'reduce' };
  const name = options.name ?? withOutput('sample-weight-reduction', choice.output);
  return weightingPlugin(name, undefined, reductionOf(reduction, name), options.report, choice);
}
