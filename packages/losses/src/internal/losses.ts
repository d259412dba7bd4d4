import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { fusedCategoricalCrossentropy } from './fused-step-kernels.js';

// Looks like PerSampleMetric and BuiltinMetricName in metrics.ts; stays apart: losses and metrics have their own Keras names and resolvers.
/**
 * A loss as a function of targets and predictions that returns one value per sample, shape `[batch]`: the Keras loss
 * before its reduction, so that sample weights, per-output means and any reduction stay the caller's.
 */
export type PerSampleLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor1D;

/** Built-in losses, Keras names (camelCase, as tfjs-layers spells them). */
export type LossName =
  | 'meanSquaredError'
  | 'meanAbsoluteError'
  | 'huber'
  | 'binaryCrossentropy'
  | 'categoricalCrossentropy'
  | 'sparseCategoricalCrossentropy';

/**
 * A loss function as tfjs users write them, `(yTrue, yPred) => tensor`: per-sample values `[batch]` (tfjs-layers'
 * losses), or `[batch, …]` averaged per sample. A scalar (a reduced `tf.losses.*` result) cannot be sample-weighted
 * and is refused: pass `tf.Reduction.NONE`.
 */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** How a loss may be given to {@link resolveLoss} (and the trainer's `loss` option). */
export type LossSpec =
  | LossName
  | LossFunction
  | { readonly name: LossName; readonly fromLogits?: boolean }
  /** A custom loss; `kind` and `fromLogits` let `'accuracy'` resolve (and threshold logits at 0) as for built-ins. */
  | { readonly name: string; readonly fn: PerSampleLoss; readonly kind?: TargetKind; readonly fromLogits?: boolean };

/** The kind of target a loss expects; drives `'accuracy'` resolution and data validation. */
export type TargetKind = 'binary' | 'categorical' | 'sparse' | 'regression' | 'custom';

/** A resolved loss: its name, the kind of target it expects, whether it takes logits, and its per-sample function. */
export interface ResolvedLoss {
  /** The Keras name of a built-in loss, the custom loss's name, or the function's name (`'loss'` if anonymous). */
  readonly name: string;
  /** The kind of target: what `'accuracy'` resolves to in {@link resolveMetrics}. */
  readonly kind: TargetKind;
  /** Whether predictions are logits (cross-entropy losses only). */
  readonly fromLogits: boolean;
  /** Per-sample loss values, `[batch]`. */
  readonly fn: PerSampleLoss;
}

const EPSILON = 1e-7;

/**
 * Mean over every axis but the first, `[batch, …] → [batch]` (a `[batch]` tensor is returned as it is): how a loss over
 * `[batch, …]` becomes one value per sample, as Keras averages over the last axis.
 *
 * @example
 * ```ts
 * meanPerSample(tf.tensor2d([[1, 3], [2, 2]])); // [2, 2]
 * ```
 */
export function meanPerSample(t: tf.Tensor): tf.Tensor1D {
  return t.rank === 1 ? (t as tf.Tensor1D) : (t.reshape([t.shape[0], -1]).mean(1) as tf.Tensor1D);
}

function sumLastAxisThenMean(t: tf.Tensor): tf.Tensor1D {
  return meanPerSample(t.sum(-1));
}

/**
 * Sparse labels as int32 of the predictions' shape without the class axis: `[batch]` or `[batch, 1]` labels for
 * `[batch, classes]` predictions, `[batch, steps]` or `[batch, steps, 1]` for `[batch, steps, classes]` (sequence
 * outputs), as Keras accepts them.
 */
export function sparseLabels(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  const shape = yPred.shape.slice(0, -1);
  const size = shape.reduce((a, b) => a * b, 1);
  if (yTrue.size !== size) {
    throw new FitstreamInputError(
      'yTrue',
      `sparse labels of shape [${yTrue.shape.join(', ')}] do not match predictions of shape [${yPred.shape.join(', ')}]; give one class index per prediction row: shape [${shape.join(', ')}] (or with a trailing 1).`,
    );
  }
  const labels = yTrue.shape.length === shape.length && yTrue.shape.every((d, i) => d === shape[i]) ? yTrue : yTrue.reshape(shape);
  return labels.dtype === 'int32' ? labels : labels.toInt();
}

function builtin(name: LossName, fromLogits: boolean): PerSampleLoss {
  switch (name) {
    case 'meanSquaredError':
      return (y, p) => meanPerSample(tf.squaredDifference(p, y));
    case 'meanAbsoluteError':
      return (y, p) => meanPerSample(tf.abs(tf.sub(p, y)));
    case 'huber':
      return (y, p) => {
        const err = tf.abs(tf.sub(p, y));
        const quadratic = tf.minimum(err, 1);
        return meanPerSample(tf.add(tf.mul(0.5, tf.square(quadratic)), tf.sub(err, quadratic)));
      };
    case 'binaryCrossentropy':
      return fromLogits
        ? // max(x,0) − x·y + log(1 + e^−|x|): stable for any logit.
          (y, x) => meanPerSample(tf.add(tf.sub(tf.relu(x), tf.mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x))))))
        : (y, p) => {
            const q = tf.clipByValue(p, EPSILON, 1 - EPSILON);
            return meanPerSample(tf.neg(tf.add(tf.mul(y, tf.log(q)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, q))))));
          };
    case 'categoricalCrossentropy':
      return fromLogits
        ? (y, x) => sumLastAxisThenMean(tf.neg(tf.mul(y, tf.logSoftmax(x))))
        : (y, p) => {
            // One kernel forward and one backward where a backend package registered them (wasm): see fused-step-kernels.ts.
            const fused = fusedCategoricalCrossentropy(y, p);
            if (fused) return fused;
            const q = tf.clipByValue(tf.div(p, tf.sum(p, -1, true)), EPSILON, 1 - EPSILON);
            return sumLastAxisThenMean(tf.neg(tf.mul(y, tf.log(q))));
          };
    case 'sparseCategoricalCrossentropy':
      return (y, p) => {
        const classes = p.shape[p.rank - 1]!;
        const oneHot = tf.oneHot(sparseLabels(y, p), classes).toFloat();
        return builtin('categoricalCrossentropy', fromLogits)(oneHot, p);
      };
  }
}

const KIND: Record<LossName, TargetKind> = {
  meanSquaredError: 'regression',
  meanAbsoluteError: 'regression',
  huber: 'regression',
  binaryCrossentropy: 'binary',
  categoricalCrossentropy: 'categorical',
  sparseCategoricalCrossentropy: 'sparse',
};

/** The built-in loss names ({@link LossName}), for error messages and schemas. */
export const LOSS_NAMES = Object.keys(KIND) as LossName[];

/** A user's loss function, checked to return per-sample values. */
function perSampleOf(fn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor, argument: string): PerSampleLoss {
  return (y, p) => {
    const out = fn(y, p);
    if (out.rank === 0) {
      throw new FitstreamInputError(argument, 'returned a scalar; return one loss per sample ([batch]) so that sample weights and per-output means are exact — for tf.losses.* pass tf.Reduction.NONE.');
    }
    return meanPerSample(out);
  };
}

/**
 * Resolves a loss given by name, `{ name, fromLogits }`, a function or `{ name, fn }` to a per-sample function with
 * Keras semantics: losses average over the last axis (every axis but the batch one), probabilities are clipped to
 * `[1e-7, 1 − 1e-7]` (Keras' epsilon), `huber` has δ = 1, and `fromLogits` applies to the cross-entropies. Unknown
 * names, `fromLogits` on a regression loss, and a function that returns a scalar fail with a `FitstreamInputError`
 * naming `argument` (default `'loss'`).
 *
 * @example
 * ```ts
 * const { fn } = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true });
 * const perSample = fn(tf.tensor2d([[1], [0]]), tf.tensor2d([[2], [-1]])); // [0.127, 0.313]
 * ```
 */
export function resolveLoss(spec: LossSpec, argument = 'loss'): ResolvedLoss {
  if (typeof spec === 'function') return { name: spec.name || 'loss', kind: 'custom', fromLogits: false, fn: perSampleOf(spec, argument) };
  if (typeof spec === 'object' && spec !== null && 'fn' in spec) {
    if (typeof spec.fn !== 'function') throw new FitstreamInputError(`${argument}.fn`, 'must be a function (yTrue, yPred) => per-sample losses.');
    const kinds: readonly TargetKind[] = ['binary', 'categorical', 'sparse', 'regression', 'custom'];
    if (spec.kind !== undefined && !kinds.includes(spec.kind)) throw new FitstreamInputError(`${argument}.kind`, `must be one of ${kinds.join(', ')}, got ${String(spec.kind)}.`);
    return { name: spec.name, kind: spec.kind ?? 'custom', fromLogits: spec.fromLogits === true, fn: perSampleOf(spec.fn, argument) };
  }
  const name = typeof spec === 'string' ? spec : spec.name;
  const fromLogits = typeof spec === 'object' && spec.fromLogits === true;
  if (!(name in KIND)) {
    throw new FitstreamInputError(argument, `unknown loss "${name}". Use one of ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}, a function (yTrue, yPred) => per-sample losses, or { name, fn } for a custom loss.`);
  }
  if (fromLogits && KIND[name] === 'regression') {
    throw new FitstreamInputError(argument, `fromLogits applies to cross-entropy losses only, not '${name}'.`);
  }
  return { name, kind: KIND[name], fromLogits, fn: builtin(name, fromLogits) };
}
