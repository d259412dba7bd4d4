import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { fusedCategoricalAccuracy } from './fused-step-kernels.js';
import { meanPerSample, resolveLoss, sparseLabels, type ResolvedLoss } from './losses.js';

// Looks like PerSampleLoss and LossName in losses.ts; stays apart: metrics and losses have their own Keras names and resolvers.
/** A metric as a per-sample function; epoch values are sample-weighted means of it. */
export type PerSampleMetric = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

/** Built-in metric names (Keras names and short aliases). */
export type BuiltinMetricName =
  | 'accuracy'
  | 'binaryAccuracy'
  | 'categoricalAccuracy'
  | 'sparseCategoricalAccuracy'
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'mse'
  | 'mae';

/** A custom metric: a name and a per-sample function. */
export interface CustomMetric<N extends string = string> {
  readonly name: N;
  readonly fn: PerSampleMetric;
}

/** How a metric may be given in the trainer's `metrics` option. */
export type MetricSpec = BuiltinMetricName | CustomMetric;

/** The log name of a metric spec. */
export type MetricNameOf<S> = S extends string ? S : S extends CustomMetric<infer N> ? N : never;

/** A resolved metric. */
export interface ResolvedMetric {
  readonly name: string;
  readonly fn: PerSampleMetric;
}

function binaryAccuracy(threshold: number): PerSampleMetric {
  return (y, p) => meanPerSample(tf.equal(y.toFloat(), tf.greater(p, threshold).toFloat()).toFloat());
}

const categoricalAccuracy: PerSampleMetric = (y, p) =>
  fusedCategoricalAccuracy(y, p) ?? (tf.equal(tf.argMax(y, -1), tf.argMax(p, -1)).toFloat().reshape([-1]) as tf.Tensor1D);
const sparseCategoricalAccuracy: PerSampleMetric = (y, p) =>
  tf.equal(sparseLabels(y), tf.argMax(p, -1).reshape([-1]).toInt()).toFloat() as tf.Tensor1D;
// The regression metrics are the regression losses, reported.
const meanSquaredError: PerSampleMetric = resolveLoss('meanSquaredError').fn;
const meanAbsoluteError: PerSampleMetric = resolveLoss('meanAbsoluteError').fn;

const BUILTIN: Record<Exclude<BuiltinMetricName, 'accuracy'>, PerSampleMetric> = {
  binaryAccuracy: binaryAccuracy(0.5),
  categoricalAccuracy,
  sparseCategoricalAccuracy,
  meanSquaredError,
  meanAbsoluteError,
  mse: meanSquaredError,
  mae: meanAbsoluteError,
};

/** The built-in metric names, for error messages and schemas. */
export const METRIC_NAMES: readonly BuiltinMetricName[] = ['accuracy', ...(Object.keys(BUILTIN) as BuiltinMetricName[])];

/**
 * Resolves the `metrics` option against the loss. `'accuracy'` picks binary, categorical or sparse accuracy from the
 * loss (Keras does the same); with a logits loss, binary accuracy thresholds at 0 instead of 0.5.
 */
export function resolveMetrics(specs: readonly MetricSpec[], loss: ResolvedLoss): ResolvedMetric[] {
  const seen = new Set<string>(['loss']);
  return specs.map((spec) => {
    const resolved = resolveOne(spec, loss);
    if (seen.has(resolved.name)) throw new Error(`metrics: "${resolved.name}" is listed twice (or collides with "loss"); list each metric once.`);
    seen.add(resolved.name);
    return resolved;
  });
}

function resolveOne(spec: MetricSpec, loss: ResolvedLoss): ResolvedMetric {
  if (typeof spec === 'object') {
    if (typeof spec.fn !== 'function' || typeof spec.name !== 'string' || spec.name === '') {
      throw new FitstreamInputError('metrics', 'a custom metric is { name: string, fn: (yTrue, yPred) => per-sample values }.');
    }
    return { name: spec.name, fn: spec.fn };
  }
  if (spec === 'accuracy') {
    switch (loss.kind) {
      case 'binary':
        return { name: spec, fn: binaryAccuracy(loss.fromLogits ? 0 : 0.5) };
      case 'categorical':
        return { name: spec, fn: categoricalAccuracy };
      case 'sparse':
        return { name: spec, fn: sparseCategoricalAccuracy };
      default:
        throw new Error(
          `metrics: 'accuracy' is ambiguous with loss '${loss.name}'; name the accuracy you mean: 'binaryAccuracy', 'categoricalAccuracy' or 'sparseCategoricalAccuracy'.`,
        );
    }
  }
  if (spec === 'binaryAccuracy' && loss.fromLogits) return { name: spec, fn: binaryAccuracy(0) };
  const fn = BUILTIN[spec];
  if (!fn) throw new FitstreamInputError('metrics', `unknown metric "${String(spec)}". Known metrics: ${METRIC_NAMES.join(', ')}; or pass { name, fn } for a custom one.`);
  return { name: spec, fn };
}

/**
 * Declares a custom metric with its name as a literal type, so that `e.metrics.<name>` is typed in events.
 *
 * @example
 * ```ts
 * const top2 = defineMetric('top2', (y, p) => tf.inTopK(p, tf.argMax(y, -1), 2).toFloat() as tf.Tensor1D);
 * createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy', top2] });
 * ```
 */
export function defineMetric<const N extends string>(name: N, fn: PerSampleMetric): CustomMetric<N> {
  return { name, fn };
}
