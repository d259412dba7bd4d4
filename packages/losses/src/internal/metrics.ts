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

/** A custom metric: a name (its log key) and a per-sample function. Declare one with {@link defineMetric}. */
export interface CustomMetric<N extends string = string> {
  readonly name: N;
  readonly fn: PerSampleMetric;
}

/** How a metric may be given to {@link resolveMetrics} (and in the trainer's `metrics` option). */
export type MetricSpec = BuiltinMetricName | CustomMetric;

/** The log name of a metric spec, as a literal type: the built-in name, or a custom metric's `N`. */
export type MetricNameOf<S> = S extends string ? S : S extends CustomMetric<infer N> ? N : never;

/** A resolved metric: its log name and its per-sample function. */
export interface ResolvedMetric {
  /** The name it is logged under: the spec as given (`'accuracy'` stays `'accuracy'`), or the custom metric's name. */
  readonly name: string;
  /** Per-sample metric values, `[batch]`. */
  readonly fn: PerSampleMetric;
}

function binaryAccuracy(threshold: number): PerSampleMetric {
  return (y, p) => meanPerSample(tf.equal(y.toFloat(), tf.greater(p, threshold).toFloat()).toFloat());
}

// Sequence outputs ([batch, steps, classes]) average their steps, so every metric is one value per sample, as Keras'
// mean over all steps weighted by a per-sample weight.
const categoricalAccuracy: PerSampleMetric = (y, p) => fusedCategoricalAccuracy(y, p) ?? meanPerSample(tf.equal(tf.argMax(y, -1), tf.argMax(p, -1)).toFloat());
const sparseCategoricalAccuracy: PerSampleMetric = (y, p) => meanPerSample(tf.equal(sparseLabels(y, p), tf.argMax(p, -1).toInt()).toFloat());
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

/** The built-in metric names ({@link BuiltinMetricName}), for error messages and schemas. */
export const METRIC_NAMES: readonly BuiltinMetricName[] = ['accuracy', ...(Object.keys(BUILTIN) as BuiltinMetricName[])];

/**
 * Resolves metrics against the loss they accompany, to per-sample functions. `'accuracy'` picks binary, categorical or
 * sparse accuracy from the loss's `kind` (Keras does the same); with a logits loss, binary accuracy thresholds at 0
 * instead of 0.5. Categorical and sparse accuracy are 1 or 0 per sample (whether the first maximum of the prediction
 * is the target's class); binary accuracy is the fraction of a sample's values on the target's side of the threshold;
 * `mse`/`mae` are the regression losses. An unknown name, a malformed custom metric, a name listed twice (or
 * `'loss'`) and an ambiguous `'accuracy'` fail with a `FitstreamInputError` naming `argument` (default `'metrics'`).
 *
 * @example
 * ```ts
 * const [accuracy] = resolveMetrics(['accuracy'], resolveLoss('sparseCategoricalCrossentropy'));
 * accuracy.fn(tf.tensor1d([2, 1]), tf.tensor2d([[0.1, 0.9, 0.8], [0.05, 0.95, 0]])); // [0, 1]
 * ```
 */
export function resolveMetrics(specs: readonly MetricSpec[], loss: ResolvedLoss, argument = 'metrics'): ResolvedMetric[] {
  const seen = new Set<string>(['loss']);
  return specs.map((spec) => {
    const resolved = resolveOne(spec, loss, argument);
    if (seen.has(resolved.name)) throw new FitstreamInputError(argument, `"${resolved.name}" is listed twice (or collides with "loss"); list each metric once.`);
    seen.add(resolved.name);
    return resolved;
  });
}

function resolveOne(spec: MetricSpec, loss: ResolvedLoss, argument: string): ResolvedMetric {
  if (typeof spec === 'object') {
    if (typeof spec.fn !== 'function' || typeof spec.name !== 'string' || spec.name === '') {
      throw new FitstreamInputError(argument, 'a custom metric is { name: string, fn: (yTrue, yPred) => per-sample values }.');
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
        throw new FitstreamInputError(
          argument,
          `'accuracy' is ambiguous with loss '${loss.name}'; name the accuracy you mean: 'binaryAccuracy', 'categoricalAccuracy' or 'sparseCategoricalAccuracy'.`,
        );
    }
  }
  if (spec === 'binaryAccuracy' && loss.fromLogits) return { name: spec, fn: binaryAccuracy(0) };
  const fn = BUILTIN[spec];
  if (!fn) throw new FitstreamInputError(argument, `unknown metric "${String(spec)}". Known metrics: ${METRIC_NAMES.join(', ')}; or pass { name, fn } for a custom one.`);
  return { name: spec, fn };
}

/**
 * Declares a custom metric with its name as a literal type, so that `e.metrics.<name>` is typed in the trainer's
 * events. It returns `{ name, fn }` unchanged; `fn` gives one value per sample (`[batch]`), and an epoch's value is
 * the (sample-weighted) mean of them.
 *
 * @example
 * ```ts
 * const maxError = defineMetric('maxError', (y, p) => tf.abs(tf.sub(y, p)).max(-1) as tf.Tensor1D);
 * createTrainer({ model, optimizer: 'adam', loss: 'meanSquaredError', metrics: ['mae', maxError] });
 * // e.metrics.maxError is typed in the trainer's events; resolveMetrics(['mae', maxError], loss) outside it.
 * ```
 */
export function defineMetric<const N extends string>(name: N, fn: PerSampleMetric): CustomMetric<N> {
  return { name, fn };
}
