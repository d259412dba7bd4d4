import * as tf from '@tensorflow/tfjs';
import { assertKnownOptions, didYouMean, FitstreamInputError } from '@fitstream/util';
import type { LossOption } from './heads.js';
import { LOSS_NAMES, METRIC_NAMES, meanPerSample, resolveLoss, resolveMetrics, type CustomMetric, type LossSpec, type MetricSpec, type PerSampleMetric } from '@fitstream/losses';
import type { TrainerOptions } from './trainer-options.js';

/**
 * Every name of {@link TrainerOptions}, checked against the interface at compile time: `createTrainer` refuses any
 * other name with a did-you-mean. Add a new option here too.
 */
export const TRAINER_OPTION_NAMES = Object.keys({
  model: true,
  models: true,
  optimizer: true,
  loss: true,
  trainStep: true,
  metrics: true,
  lossWeights: true,
  seed: true,
  backend: true,
  log: true,
} satisfies { readonly [K in keyof Required<TrainerOptions>]: true });

/** Names users bring from `model.compile`/`model.fit` that mean something else here. */
const TRAINER_HINTS: Readonly<Record<string, string>> = {
  learningRate: "the learning rate belongs to the optimizer: optimizer: { name: 'adam', learningRate: 0.001 }, or a schedule plugin.",
  lr: "the learning rate belongs to the optimizer: optimizer: { name: 'adam', learningRate: 0.001 }, or a schedule plugin.",
  epochs: 'is a fit option: trainer.fit(data, { epochs }).',
  batchSize: 'is a fit option: trainer.fit(data, { batchSize }).',
  callbacks: 'plugins are added with trainer.use(plugin); tfjs callbacks are accepted by the fit option callbacks.',
  weightedMetrics: 'metrics are sample-weighted when the data has sampleWeight; use metrics.',
  classWeight: "use classWeights from '@fitstream/regularisers': trainer.use(classWeights({ 0: 1, 1: 5 })).",
};

/** Compiled-model fields tfjs-layers keeps after `model.compile({ optimizer, loss, metrics })`. */
interface Compiled {
  readonly optimizer: tf.Optimizer | undefined;
  readonly loss: unknown;
  readonly metrics: unknown;
}

function compiledOf(model: unknown): Compiled | undefined {
  if (!(model instanceof tf.LayersModel)) return undefined;
  const loss = Array.isArray(model.loss) && model.loss.length === 0 ? undefined : (model.loss as unknown);
  const optimizer = model.optimizer as tf.Optimizer | undefined;
  if (!optimizer && loss === undefined) return undefined;
  return { optimizer: optimizer ?? undefined, loss, metrics: model.metrics as unknown };
}

/** Models whose "createTrainer's options win over model.compile's" line was already written (once per model). */
const announced = new WeakSet<object>();

/**
 * Checks the option names, maps tfjs loss names that are not built in, and fills in what `createTrainer` does not name
 * from a compiled model: its optimizer, loss and metrics (tfjs-layers' `model.compile`). Where both name one,
 * `createTrainer`'s wins and one log line per model says which were ignored.
 */
export function resolveTrainerOptions(given: TrainerOptions): TrainerOptions {
  assertKnownOptions(given, TRAINER_OPTION_NAMES, 'createTrainer(options)', TRAINER_HINTS);
  const compiled = compiledOf(given.model);
  const loss = given.loss === undefined ? undefined : mapLossOption(given.loss, 'loss');
  if (!compiled) return loss === undefined ? given : { ...given, loss };
  const model = given.model as tf.LayersModel;
  const ignored: string[] = [];
  if (given.optimizer !== undefined && compiled.optimizer && given.optimizer !== compiled.optimizer) ignored.push(`optimizer (${compiled.optimizer.getClassName()})`);
  if (given.loss !== undefined && compiled.loss !== undefined && !sameSpec(given.loss, compiled.loss)) ignored.push('loss');
  if (given.metrics !== undefined && compiled.metrics !== undefined && !sameSpec(given.metrics, compiled.metrics)) ignored.push('metrics');
  if (ignored.length && !announced.has(model)) {
    announced.add(model);
    logLine(given, `fitstream: createTrainer's ${ignored.map((i) => i.replace(/ \(.*/, '')).join(', ')} win${ignored.length === 1 ? 's' : ''} over model.compile's; ignored from model.compile: ${ignored.join(', ')}.`);
  }
  // A custom trainStep computes its own losses: only the optimizer carries over to it.
  const useCompiledLoss = given.loss === undefined && compiled.loss !== undefined && !given.trainStep;
  const effectiveLoss = useCompiledLoss ? mapLossOption(compiled.loss as LossOption, 'model.compile loss') : loss;
  const metrics = given.metrics === undefined && compiled.metrics != null && effectiveLoss !== undefined && !given.trainStep ? compiledMetrics(model, compiled.metrics, effectiveLoss) : undefined;
  return {
    ...given,
    ...(given.optimizer === undefined && compiled.optimizer ? { optimizer: compiled.optimizer } : {}),
    ...(effectiveLoss === undefined ? {} : { loss: effectiveLoss }),
    ...(metrics === undefined ? {} : { metrics }),
  };
}

function logLine(options: TrainerOptions, line: string): void {
  if (options.log === null) return;
  (options.log ?? ((l: string) => console.error(l)))(line);
}

function sameSpec(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameSpec((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ── losses ──────────────────────────────────────────────────────────────────────────────────────────────────────────

const EPSILON = 1e-7;
const l2Normalise = (t: tf.Tensor) => tf.div(t, tf.sqrt(tf.maximum(tf.sum(tf.square(t), -1, true), EPSILON)));

/** tfjs-layers' losses that core has no built-in for, as tfjs computes them (per sample, mean over the last axis). */
const TFJS_LOSSES: Readonly<Record<string, (y: tf.Tensor, p: tf.Tensor) => tf.Tensor>> = {
  meanAbsolutePercentageError: (y, p) => tf.mul(100, tf.mean(tf.abs(tf.div(tf.sub(y, p), tf.clipByValue(tf.abs(y), EPSILON, Number.MAX_VALUE))), -1)),
  meanSquaredLogarithmicError: (y, p) =>
    tf.mean(tf.square(tf.sub(tf.log1p(tf.clipByValue(p, EPSILON, Number.MAX_VALUE)), tf.log1p(tf.clipByValue(y, EPSILON, Number.MAX_VALUE)))), -1),
  squaredHinge: (y, p) => tf.mean(tf.square(tf.maximum(0, tf.sub(1, tf.mul(y, p)))), -1),
  hinge: (y, p) => tf.mean(tf.maximum(0, tf.sub(1, tf.mul(y, p))), -1),
  categoricalHinge: (y, p) => tf.maximum(0, tf.add(1, tf.sub(tf.max(tf.mul(tf.sub(1, y), p), -1), tf.sum(tf.mul(y, p), -1)))),
  logcosh: (y, p) => {
    const d = tf.sub(p, y);
    return tf.mean(tf.sub(tf.add(d, tf.softplus(tf.mul(-2, d))), Math.log(2)), -1);
  },
  kullbackLeiblerDivergence: (y, p) => tf.sum(tf.mul(y, tf.log(tf.div(tf.clipByValue(y, EPSILON, 1), tf.clipByValue(p, EPSILON, 1)))), -1),
  poisson: (y, p) => tf.mean(tf.sub(p, tf.mul(y, tf.log(tf.add(EPSILON, p)))), -1),
  cosineProximity: (y, p) => tf.neg(tf.sum(tf.mul(l2Normalise(y), l2Normalise(p)), -1)),
};

/** One loss: a built-in name stays; a tfjs-only name becomes `{ name, fn }`; anything else is left to core. */
function mapLoss(spec: unknown, argument: string): LossSpec {
  if (typeof spec !== 'string' || (LOSS_NAMES as readonly string[]).includes(spec)) return spec as LossSpec;
  const fn = TFJS_LOSSES[spec];
  if (fn) return { name: spec, fn: (y, p) => meanPerSample(fn(y, p)), kind: spec.endsWith('Hinge') || spec === 'hinge' ? 'custom' : 'regression' };
  const near = didYouMean(spec, [...LOSS_NAMES, ...Object.keys(TFJS_LOSSES)]);
  const known = [...LOSS_NAMES, ...Object.keys(TFJS_LOSSES)].map((n) => `'${n}'`).join(', ');
  throw new FitstreamInputError(argument, `unknown loss "${spec}". Use one of ${known}, a function (yTrue, yPred) => per-sample losses, or { name, fn } for a custom loss.${near ? ` Did you mean '${near}'?` : ''}`);
}

/** The loss option with tfjs-only loss names mapped (one, a list in output order, or a map by output name). */
export function mapLossOption(option: LossOption, argument: string): LossOption {
  if (typeof option === 'string' || typeof option === 'function') return mapLoss(option, argument);
  if (Array.isArray(option)) return (option as readonly unknown[]).map((l, i) => mapLoss(l, `${argument}[${i}]`));
  const map = option as Record<string, unknown>;
  if ('name' in map && typeof map['name'] === 'string') return option; // { name, fn?, fromLogits? }
  return Object.fromEntries(Object.entries(map).map(([k, l]) => [k, mapLoss(l, `${argument}.${k}`)]));
}

// ── metrics ─────────────────────────────────────────────────────────────────────────────────────────────────────────

/** A tfjs metric function as a per-sample one: batch-level scalars (precision, recall) count for every sample. */
function perSampleMetric(fn: (y: tf.Tensor, p: tf.Tensor) => tf.Tensor): PerSampleMetric {
  return (y, p) => {
    const out = fn(y, p);
    if (out.rank === 0) return tf.mul(tf.ones([y.shape[0]!]), out) as tf.Tensor1D;
    return meanPerSample(out);
  };
}

/** The loss of one output, as a built-in loss's name when it is one. */
function lossNameOf(loss: LossOption, output: string, index: number): string | undefined {
  const spec: unknown = typeof loss === 'string' || typeof loss === 'function' ? loss : Array.isArray(loss) ? loss[index] : 'name' in loss ? loss : (loss as Record<string, unknown>)[output];
  if (typeof spec === 'string') return spec;
  return typeof spec === 'object' && spec !== null && !('fn' in spec) ? (spec as { name?: string }).name : undefined;
}

/**
 * `'accuracy'`/`'acc'` and `'crossentropy'`/`'ce'` resolved as tfjs-layers' compile does: binary when the output has
 * one unit or the loss is binary cross-entropy, sparse with sparse categorical cross-entropy, categorical otherwise.
 */
function tfjsKindMetric(name: string, family: 'accuracy' | 'crossentropy', lossName: string | undefined, units: number | null | undefined): CustomMetric {
  const kind = units === 1 || lossName === 'binaryCrossentropy' ? 'binary' : lossName === 'sparseCategoricalCrossentropy' ? 'sparse' : 'categorical';
  if (family === 'accuracy') {
    const builtin = kind === 'binary' ? 'binaryAccuracy' : kind === 'sparse' ? 'sparseCategoricalAccuracy' : 'categoricalAccuracy';
    return { name, fn: resolveMetrics([builtin], resolveLoss('meanSquaredError'))[0]!.fn };
  }
  const loss = kind === 'binary' ? 'binaryCrossentropy' : kind === 'sparse' ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy';
  return { name, fn: resolveLoss(loss).fn };
}

function compiledMetric(metric: unknown, lossName: string | undefined, units: number | null | undefined): MetricSpec {
  if (typeof metric === 'function') {
    const fn = metric as (y: tf.Tensor, p: tf.Tensor) => tf.Tensor;
    return { name: fn.name || 'metric', fn: perSampleMetric(fn) };
  }
  if (typeof metric !== 'string') throw new FitstreamInputError('model.compile metrics', `must be metric names or functions, got ${String(metric)}.`);
  const crossentropy = lossName === 'binaryCrossentropy' || lossName === 'categoricalCrossentropy' || lossName === 'sparseCategoricalCrossentropy';
  if (metric === 'accuracy' && crossentropy) return 'accuracy';
  if (metric === 'accuracy' || metric === 'acc') return tfjsKindMetric(metric, 'accuracy', lossName, units);
  if (metric === 'crossentropy' || metric === 'ce') return tfjsKindMetric(metric, 'crossentropy', lossName, units);
  if ((METRIC_NAMES as readonly string[]).includes(metric)) return metric as MetricSpec;
  const tfjs = (tf.metrics as unknown as Record<string, unknown>)[metric];
  if (typeof tfjs === 'function') return { name: metric, fn: perSampleMetric(tfjs as (y: tf.Tensor, p: tf.Tensor) => tf.Tensor) };
  const near = didYouMean(metric, [...METRIC_NAMES, ...Object.keys(tf.metrics)]);
  throw new FitstreamInputError('model.compile metrics', `unknown metric "${metric}".${near ? ` Did you mean '${near}'?` : ''}`);
}

/** Compiled metrics as the trainer's `metrics` option: one list (a single output) or a map by output name. */
function compiledMetrics(model: tf.LayersModel, metrics: unknown, loss: LossOption): TrainerOptions['metrics'] {
  const outputs = model.outputNames.length === model.outputs.length ? model.outputNames : model.outputs.map((o) => o.sourceLayer.name);
  const listOf = (m: unknown): readonly unknown[] => (m == null ? [] : Array.isArray(m) ? m : [m]);
  const perOutput = outputs.map((name, i) => {
    const own = typeof metrics === 'object' && metrics !== null && !Array.isArray(metrics) ? listOf((metrics as Record<string, unknown>)[name]) : listOf(metrics);
    const units = model.outputs[i]!.shape[model.outputs[i]!.shape.length - 1];
    return own.map((m) => compiledMetric(m, lossNameOf(loss, name, i), units));
  });
  if (outputs.length === 1) return perOutput[0]!;
  return Object.fromEntries(outputs.map((name, i) => [name, perOutput[i]!]));
}
