import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import type { SampleWeights, Targets } from '../model/targets.js';
import { resolveLoss, resolveMetrics, type LossSpec, type MetricNameOf, type MetricSpec, type ResolvedLoss, type ResolvedMetric } from '@fitstream/losses';


/** The `loss` option: one loss (every output), one per output in order, or a map by output name (Keras 3). */
export type LossOption = LossSpec | readonly LossSpec[] | { readonly [output: string]: LossSpec };
/** The `metrics` option: metrics for every output, a list per output in order, or a map by output name. */
export type MetricsOption = readonly MetricSpec[] | readonly (readonly MetricSpec[])[] | { readonly [output: string]: readonly MetricSpec[] };
/** The `lossWeights` option: a weight per output in order, or a map by output name (default 1 each). */
export type LossWeights = readonly number[] | { readonly [output: string]: number };

/**
 * The log names a trainer reports besides `loss`, typed from its options: the metric names for a single-output model;
 * with a loss map keyed by output name (Keras 3), `<output>_loss` and `<output>_<metric>`.
 */
export type LogNamesOf<L, MX> = LossOption extends L
  ? MetricsNamesOf<MX> // the loss option's shape is not known at compile time (options passed through as TrainerOptions)
  : PerOutputNamesOf<L, MX>;

type PerOutputNamesOf<L, MX> = L extends string | { readonly name: string } | readonly unknown[]
  ? L extends readonly unknown[]
    ? `${string}_loss` | `${string}_${MetricsNamesOf<MX>}`
    : MetricsNamesOf<MX>
  : `${keyof L & string}_loss` | OutputMetricNames<keyof L & string, MX>;

/** Metric names of a list (or a list per output) of metric specs. */
type MetricsNamesOf<MX> = MX extends readonly (infer S)[] ? (S extends readonly (infer T)[] ? MetricNameOf<T> : MetricNameOf<S>) : never;

type OutputMetricNames<O extends string, MX> = MX extends readonly (infer S)[]
  ? S extends readonly (infer T)[]
    ? `${O}_${MetricNameOf<T>}`
    : `${O}_${MetricNameOf<S>}`
  : MX extends { readonly [output: string]: readonly MetricSpec[] }
    ? { [K in keyof MX & string]: `${K}_${MetricNameOf<MX[K][number]>}` }[keyof MX & string]
    : never;

/** One output of the model: its loss, weight and metrics. */
export interface Head {
  readonly name: string;
  readonly loss: ResolvedLoss;
  readonly weight: number;
  readonly metrics: readonly ResolvedMetric[];
}

/** A model's outputs as the trainer scores them. */
export interface Heads {
  readonly heads: readonly Head[];
  /** More than one output: per-output names (`<output>_loss`, `<output>_<metric>`) are reported. */
  readonly multi: boolean;
  /** `['loss', …]` in the order of the values {@link scoreBatch} stacks. */
  readonly metricNames: readonly string[];
}

const isSpecList = <T>(v: unknown): v is readonly T[] => Array.isArray(v);
const SPEC_KEYS = new Set(['name', 'fn', 'kind', 'fromLogits']);
/** One loss (not a list or a map of them): a name, a function, or `{ name, fn?, kind?, fromLogits? }`. */
const isLossSpec = (v: unknown): v is LossSpec =>
  typeof v === 'string' ||
  typeof v === 'function' ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { name?: unknown }).name === 'string' && Object.keys(v).every((k) => SPEC_KEYS.has(k)));

/** One value per output from an option given once, as a list in output order, or as a map by output name. */
function perOutput<T>(option: T | readonly T[] | { readonly [output: string]: T }, outputs: readonly string[], argument: string, single: (v: unknown) => boolean, fallback?: T): T[] {
  if (single(option)) return outputs.map(() => option as T);
  if (isSpecList<T>(option)) {
    if (option.length !== outputs.length) throw new FitstreamInputError(argument, `has ${option.length} entries but the model has ${outputs.length} outputs (${outputs.join(', ')}); give one per output, in order, or a map by output name.`);
    return [...option];
  }
  const map = option as { readonly [output: string]: T };
  const unknown = Object.keys(map).filter((k) => !outputs.includes(k));
  if (unknown.length) throw new FitstreamInputError(argument, `names ${unknown.map((k) => `"${k}"`).join(', ')}, which the model does not output; its outputs are ${outputs.map((o) => `"${o}"`).join(', ')}.`);
  return outputs.map((o) => {
    const v = map[o] ?? fallback;
    if (v === undefined) throw new FitstreamInputError(argument, `has no entry for output "${o}"; give one for every output (${outputs.join(', ')}).`);
    return v;
  });
}

/** No outputs scored: a custom train step that computes its own losses. */
export const NO_HEADS: Heads = { heads: [], multi: false, metricNames: ['loss'] };

/** Resolves losses, weights and metrics for the model's outputs; names follow Keras 3. */
export function resolveHeads(outputs: readonly string[], loss: LossOption, metrics: MetricsOption = [], lossWeights?: LossWeights): Heads {
  const losses = perOutput<LossSpec>(loss, outputs, 'loss', isLossSpec).map((spec, i) => resolveLoss(spec, outputs.length > 1 ? `loss.${outputs[i]}` : 'loss'));
  const weights = lossWeights === undefined ? outputs.map(() => 1) : perOutput<number>(lossWeights, outputs, 'lossWeights', (v) => typeof v === 'number');
  weights.forEach((w, i) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new FitstreamInputError(`lossWeights.${outputs[i]}`, `must be a finite number ≥ 0, got ${String(w)}.`);
  });
  const flat = Array.isArray(metrics) && metrics.every((m) => !Array.isArray(m));
  const metricLists = flat ? outputs.map(() => metrics as readonly MetricSpec[]) : perOutput<readonly MetricSpec[]>(metrics as never, outputs, 'metrics', () => false, []);
  const heads = outputs.map((name, i) => ({ name, loss: losses[i]!, weight: weights[i]!, metrics: resolveMetrics(metricLists[i]!, losses[i]!) }));
  const multi = outputs.length > 1;
  const metricNames = multi
    ? ['loss', ...heads.map((h) => `${h.name}_loss`), ...heads.flatMap((h) => h.metrics.map((m) => `${h.name}_${m.name}`))]
    : ['loss', ...heads[0]!.metrics.map((m) => m.name)];
  return { heads, multi, metricNames };
}

/** A batch's targets in output order, checked against the outputs. */
export function targetList(heads: Heads, y: Targets, argument: string): tf.Tensor[] {
  if (y instanceof tf.Tensor) {
    if (heads.multi) throw new FitstreamInputError(argument, `is one tensor but the model has ${heads.heads.length} outputs (${heads.heads.map((h) => h.name).join(', ')}); give one target per output, as an array in output order or a map by output name.`);
    return [y];
  }
  return perOutput<tf.Tensor>(y as never, heads.heads.map((h) => h.name), argument, () => false);
}

/** A batch's sample weights in output order (`undefined` where an output has none). */
export function sampleWeightList(heads: Heads, sw: SampleWeights | undefined, argument: string): (tf.Tensor1D | undefined)[] {
  if (sw === undefined) return heads.heads.map(() => undefined);
  if (sw instanceof tf.Tensor) return heads.heads.map(() => sw);
  const names = heads.heads.map((h) => h.name);
  if (Array.isArray(sw)) return perOutput<tf.Tensor1D | null>(sw as readonly (tf.Tensor1D | null)[], names, argument, () => false).map((w) => w ?? undefined);
  const map = sw as { readonly [output: string]: tf.Tensor1D };
  perOutput(map as never, names.filter((n) => n in map), argument, () => false);
  return names.map((n) => map[n]);
}

/** Samples in a batch (the first target's first dimension). */
export function batchSizeOf(y: Targets): number {
  if (y instanceof tf.Tensor) return y.shape[0]!;
  const first = Array.isArray(y) ? (y as readonly tf.Tensor[])[0] : Object.values(y)[0];
  if (!first) throw new FitstreamInputError('y', 'has no targets; give one tensor per model output.');
  return first.shape[0]!;
}

/** What one output contributes: its per-sample loss (already sample-weighted) and its prediction. */
export interface HeadTerms {
  readonly perSample: tf.Tensor1D;
  readonly yTrue: tf.Tensor;
  readonly yPred: tf.Tensor;
}

/** The weighted total loss of a batch, `Σ weightₒ · mean(perSampleₒ)` (Keras 3). */
export function totalLoss(heads: Heads, terms: readonly HeadTerms[]): tf.Scalar {
  return tf.tidy(() =>
    terms
      .map((t, i) => {
        const mean = tf.mean(t.perSample) as tf.Scalar;
        const weight = heads.heads[i]!.weight;
        // × 1 is exact: skip its kernel (and its gradient's) on every step of a single-output model.
        return weight === 1 ? mean : (tf.mul(mean, weight) as tf.Scalar);
      })
      .reduce((a, b) => tf.add(a, b)),
  );
}

/** `[loss, (<output>_loss …), metrics …]` of a batch, as batch means, in the order of `metricNames`. */
export function metricValues(heads: Heads, total: tf.Scalar, terms: readonly HeadTerms[]): tf.Tensor1D {
  return tf.tidy(() => {
    const values: tf.Tensor[] = [total];
    if (heads.multi) for (const t of terms) values.push(tf.mean(t.perSample));
    heads.heads.forEach((h, i) => {
      for (const m of h.metrics) values.push(tf.mean(m.fn(terms[i]!.yTrue, terms[i]!.yPred)));
    });
    return tf.stack(values) as tf.Tensor1D;
  });
}

/** The model's predictions as a list in output order. */
export function predictionList(pred: tf.Tensor | readonly tf.Tensor[], heads: Heads): tf.Tensor[] {
  const list = pred instanceof tf.Tensor ? [pred] : [...pred];
  if (list.length !== heads.heads.length) throw new Error(`The model returned ${list.length} outputs but the trainer scores ${heads.heads.length}.`);
  return list;
}

/** Scores one batch in inference mode: `[loss, …]` batch means (no loss transforms, as Keras' evaluate). */
export function scoreBatch(heads: Heads, ys: readonly tf.Tensor[], preds: readonly tf.Tensor[], weights: readonly (tf.Tensor1D | undefined)[]): tf.Tensor1D {
  return tf.tidy(() => {
    const terms = heads.heads.map((h, i) => {
      const raw = h.loss.fn(ys[i]!, preds[i]!);
      const perSample = weights[i] ? (tf.mul(raw, weights[i]!) as tf.Tensor1D) : raw;
      return { perSample, yTrue: ys[i]!, yPred: preds[i]! };
    });
    return metricValues(heads, totalLoss(heads, terms), terms);
  });
}

export type { MetricSpec };
