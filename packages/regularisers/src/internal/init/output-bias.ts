import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { classCounts, type LabelSource } from '../loss/class-weights.js';
import { checkOutputChoice, outputOption } from '../loss/output-choice.js';

/** Options of {@link initOutputBias}: class statistics from labels, counts, or priors. */
export interface OutputBiasOptions {
  /** Training labels (one-hot, sparse, or 0/1 targets). */
  readonly labels?: LabelSource;
  /** Samples per class (softmax), or `[negatives, positives]` (one sigmoid output). */
  readonly counts?: readonly number[];
  /** Class priors (softmax) or the positive rate π per output (sigmoid), e.g. `0.01` (Lin et al.). */
  readonly prior?: number | readonly number[];
  /**
   * The output's activation. Default: the layer's own (`'sigmoid'`/`'softmax'`); a linear (logits) layer needs it,
   * naming the activation of the loss (`'sigmoid'` for binary from logits, `'softmax'` for categorical).
   */
  readonly activation?: 'sigmoid' | 'softmax';
  /**
   * The output whose Dense layer is initialised, by name (the output layer's name), for a model with several outputs;
   * required there. Optional for a single-output model (then it must name its output).
   */
  readonly output?: string;
}

/** The Dense layer to initialise: the named output's layer, or the last layer of a single-output model. */
function outputLayer(model: tf.LayersModel, output: string | undefined): tf.layers.Layer | undefined {
  checkOutputChoice({ plugin: 'initOutputBias', output, scope: 'one', verb: 'initialise' }, model.outputNames ?? []);
  if (output === undefined) return model.layers[model.layers.length - 1];
  return model.outputs[model.outputNames.indexOf(output)]!.sourceLayer as tf.layers.Layer;
}

/** Probabilities are floored here before a log, so that an absent class gets a very negative, finite bias. */
const FLOOR = 1e-7;

/**
 * Initialises the bias of the model's last Dense layer so that the untrained model predicts the class frequencies
 * (Karpathy's "init well"; Lin et al. §4.1): `log(pos / neg)` = `−log((1 − π) / π)` per sigmoid output, and the log
 * priors `log(count_c / n)` for softmax (softmax is shift-invariant, so this predicts the priors exactly). Avoids the
 * first epochs of an imbalanced problem being spent learning the base rate. Returns the bias values set. A model with
 * several outputs needs `output`, the name of the output whose Dense layer to initialise.
 *
 * @example
 * ```ts
 * initOutputBias(model, { labels: yTrain });   // sigmoid output, 1:50 data → bias log(1/50) ≈ −3.91
 * initOutputBias(model, { prior: 0.01, activation: 'sigmoid' }); // −log(99)
 * ```
 */
export function initOutputBias(model: tf.LayersModel, options: OutputBiasOptions): number[] {
  if (!(model instanceof tf.LayersModel)) throw new FitstreamInputError('initOutputBias(model)', 'expects a tf.LayersModel whose last layer is Dense.');
  const output = outputOption(options.output, 'initOutputBias');
  const layer = outputLayer(model, output);
  if (!layer || layer.getClassName() !== 'Dense') {
    throw new FitstreamInputError('initOutputBias(model)', `${output === undefined ? 'the last layer' : `the layer of output "${output}"`} is ${layer ? `a ${layer.getClassName()} ("${layer.name}")` : 'missing'}; it must be a Dense layer with a bias.`);
  }
  const weights = layer.getWeights();
  const bias = weights[1];
  if (weights.length < 2 || !bias) throw new FitstreamInputError('initOutputBias(model)', `Dense layer "${layer.name}" has no bias (useBias: false).`);
  const units = bias.shape[0]!;
  const own = layer.getConfig().activation;
  const activation = options.activation ?? (own === 'sigmoid' || own === 'softmax' ? own : undefined);
  if (!activation) {
    throw new FitstreamInputError('initOutputBias: activation', `layer "${layer.name}" has activation ${JSON.stringify(own)}; pass activation: 'sigmoid' or 'softmax' (the one your loss applies to the logits).`);
  }
  const sources = [options.labels, options.counts, options.prior].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new FitstreamInputError('initOutputBias', 'pass exactly one of labels, counts or prior.');

  let values: number[];
  if (activation === 'sigmoid') {
    let rates: number[];
    if (options.prior !== undefined) rates = typeof options.prior === 'number' ? new Array<number>(units).fill(options.prior) : [...options.prior];
    else if (options.counts !== undefined) {
      if (options.counts.length !== 2) throw new FitstreamInputError('initOutputBias: counts', 'for a sigmoid output are [negatives, positives].');
      const [neg, pos] = options.counts as [number, number];
      rates = new Array<number>(units).fill(pos / (pos + neg));
    } else rates = positiveRates(options.labels!, units);
    if (rates.length !== units) throw new FitstreamInputError('initOutputBias', `got ${rates.length} rates for ${units} sigmoid outputs.`);
    values = rates.map((p) => {
      const q = Math.min(Math.max(p, FLOOR), 1 - FLOOR);
      return Math.log(q / (1 - q));
    });
  } else {
    let priors: number[];
    if (options.prior !== undefined) priors = typeof options.prior === 'number' ? new Array<number>(units).fill(options.prior) : [...options.prior];
    else {
      const counts = options.counts ? [...options.counts] : classCounts(options.labels!, { classes: units });
      const n = counts.reduce((a, b) => a + b, 0);
      priors = counts.map((c) => c / n);
    }
    if (priors.length !== units) throw new FitstreamInputError('initOutputBias', `got ${priors.length} class priors for ${units} softmax outputs.`);
    values = priors.map((p) => Math.log(Math.max(p, FLOOR)));
  }
  if (values.some((v) => !Number.isFinite(v))) throw new FitstreamInputError('initOutputBias', `the statistics give a non-finite bias (${values.join(', ')}); check labels/counts/prior.`);
  const next = tf.tensor1d(values);
  layer.setWeights([weights[0]!, next, ...weights.slice(2)]);
  next.dispose();
  return values;
}

/** Positive rate per sigmoid output from 0/1 labels `[n]` or `[n, units]`. */
function positiveRates(labels: LabelSource, units: number): number[] {
  return tf.tidy(() => {
    const y = labels instanceof tf.Tensor ? tf.cast(labels, 'float32') : tf.tensor1d(Array.from(labels));
    const rows = tf.reshape(y, [y.shape[0]!, -1]);
    if (rows.shape[1] !== units) throw new FitstreamInputError('initOutputBias: labels', `have ${rows.shape[1]} columns for ${units} sigmoid outputs.`);
    return Array.from(tf.mean(rows, 0).dataSync());
  });
}
