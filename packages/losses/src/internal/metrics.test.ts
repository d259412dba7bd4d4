import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { describe, expect, it } from 'vitest';
import { catchError, expectClose, tidyValues } from '../test-support/fixtures.js';
import { resolveLoss, type LossName, type ResolvedLoss } from './losses.js';
import { defineMetric, METRIC_NAMES, resolveMetrics, type BuiltinMetricName, type MetricSpec } from './metrics.js';

/** The one metric `spec` resolves to against `loss`, applied to `yTrue` and `yPred`, as host values. */
function metric(spec: MetricSpec, loss: ResolvedLoss | LossName, yTrue: () => tf.Tensor, yPred: () => tf.Tensor): number[] {
  const [resolved] = resolveMetrics([spec], typeof loss === 'string' ? resolveLoss(loss) : loss);
  return tidyValues(() => resolved!.fn(yTrue(), yPred()));
}

// Keras' docstring examples (keras/src/metrics/accuracy_metrics.py, regression_metrics.py).
const binaryY = () => tf.tensor2d([[1], [1], [0], [0]]);
const binaryP = () => tf.tensor2d([[0.98], [1], [0], [0.6]]);
const categoricalY = () => tf.tensor2d([[0, 0, 1], [0, 1, 0]]);
const sparseY = () => tf.tensor2d([[2], [1]]);
const classP = () => tf.tensor2d([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]);
const regressionY = () => tf.tensor2d([[0, 1], [0, 0]]);
const regressionP = () => tf.tensor2d([[1, 1], [1, 0]]);

describe('built-in metrics: one value per sample, Keras’ documented values', () => {
  it('METRIC_NAMES lists accuracy, the Keras names and the short aliases', () => {
    expect(METRIC_NAMES).toEqual(['accuracy', 'binaryAccuracy', 'categoricalAccuracy', 'sparseCategoricalAccuracy', 'meanSquaredError', 'meanAbsoluteError', 'mse', 'mae']);
  });

  // Every built-in name: `satisfies Record<BuiltinMetricName, …>` fails to compile when a name is added without a case.
  const CASES = {
    // y_pred > 0.5 → [1, 1, 1, 0]: Keras' 0.75.
    binaryAccuracy: () => expect(metric('binaryAccuracy', 'meanSquaredError', binaryY, binaryP)).toEqual([1, 1, 1, 0]),
    // first maxima at 1 and 1, targets at 2 and 1 → [0, 1]: Keras' 0.5.
    categoricalAccuracy: () => expect(metric('categoricalAccuracy', 'meanSquaredError', categoricalY, classP)).toEqual([0, 1]),
    sparseCategoricalAccuracy: () => expect(metric('sparseCategoricalAccuracy', 'meanSquaredError', sparseY, classP)).toEqual([0, 1]),
    accuracy: () => expect(metric('accuracy', 'categoricalCrossentropy', categoricalY, classP)).toEqual([0, 1]),
    // (1 + 0)/2 per sample: Keras' 0.5 (its mean_squared_error and mean_absolute_error examples).
    meanSquaredError: () => expectClose(metric('meanSquaredError', 'huber', regressionY, regressionP), [0.5, 0.5]),
    meanAbsoluteError: () => expectClose(metric('meanAbsoluteError', 'huber', regressionY, regressionP), [0.5, 0.5]),
    mse: () => expectClose(metric('mse', 'huber', () => tf.tensor2d([[0, 0]]), () => tf.tensor2d([[1, 3]])), [5]),
    mae: () => expectClose(metric('mae', 'huber', () => tf.tensor2d([[0, 0]]), () => tf.tensor2d([[1, -3]])), [2]),
  } satisfies Record<BuiltinMetricName, () => void>;

  for (const name of METRIC_NAMES) it(name, CASES[name]);

  it('binaryAccuracy is the fraction of a sample’s values on the right side of 0.5; 0.5 itself counts as 0', () => {
    expect(metric('binaryAccuracy', 'meanSquaredError', () => tf.tensor2d([[1, 0, 1, 0]]), () => tf.tensor2d([[0.7, 0.7, 0.5, 0.5]]))).toEqual([0.5]);
  });

  it('categoricalAccuracy takes the first of tied maxima (as argmax does)', () => {
    expect(metric('categoricalAccuracy', 'meanSquaredError', () => tf.tensor2d([[1, 0], [0, 1]]), () => tf.tensor2d([[0.5, 0.5], [0.5, 0.5]]))).toEqual([1, 0]);
  });

  it('sparseCategoricalAccuracy takes labels as [batch] or [batch, 1], float or int', () => {
    expect(metric('sparseCategoricalAccuracy', 'meanSquaredError', () => tf.tensor1d([2, 1], 'int32'), classP)).toEqual([0, 1]);
    expect(metric('sparseCategoricalAccuracy', 'meanSquaredError', () => tf.tensor1d([1, 1]), classP)).toEqual([1, 1]);
  });

  it('sequence outputs [batch, steps, classes]: one value per sample, the mean over its steps', () => {
    // Sample 0: steps right, wrong, right → 2/3; sample 1: wrong, wrong, right → 1/3.
    const p = () => tf.tensor3d([[[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [[0.6, 0.4], [0.1, 0.9], [0.2, 0.8]]]);
    const labels = [[0, 1, 1], [1, 0, 1]];
    const oneHot = () => tf.oneHot(tf.tensor2d(labels, undefined, 'int32'), 2).toFloat();
    const categorical = metric('categoricalAccuracy', 'meanSquaredError', oneHot, p);
    expect(categorical).toHaveLength(2);
    expectClose(categorical, [2 / 3, 1 / 3]);
    expectClose(metric('sparseCategoricalAccuracy', 'meanSquaredError', () => tf.tensor2d(labels), p), [2 / 3, 1 / 3]);
    expectClose(metric('sparseCategoricalAccuracy', 'meanSquaredError', () => tf.tensor3d(labels.map((r) => r.map((v) => [v]))), p), [2 / 3, 1 / 3]);
  });

  it('refuses sparse labels that do not give one class per prediction row, naming yTrue', () => {
    const error = catchError(() => metric('sparseCategoricalAccuracy', 'meanSquaredError', () => tf.tensor1d([1, 0, 1]), classP));
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect(String(error)).toMatch(/yTrue.*\[3\].*\[2, 3\].*shape \[2\]/);
  });
});

describe("'accuracy' follows the loss, as in Keras", () => {
  it('binary, categorical or sparse accuracy from the loss’s kind', () => {
    expect(metric('accuracy', 'binaryCrossentropy', binaryY, binaryP)).toEqual([1, 1, 1, 0]);
    expect(metric('accuracy', 'categoricalCrossentropy', categoricalY, classP)).toEqual([0, 1]);
    expect(metric('accuracy', 'sparseCategoricalCrossentropy', sparseY, classP)).toEqual([0, 1]);
    expect(metric('accuracy', resolveLoss({ name: 'mine', fn: (y, p) => tf.sub(y, p).sum(-1) as tf.Tensor1D, kind: 'sparse' }), sparseY, classP)).toEqual([0, 1]);
  });

  it('with a logits loss, binary accuracy thresholds at 0 (σ(0) = 0.5), for `accuracy` and `binaryAccuracy`', () => {
    const logits = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true });
    const y = () => tf.tensor2d([[1], [0], [1], [0]]);
    const x = () => tf.tensor2d([[0.3], [-0.2], [-0.1], [0.4]]);
    expect(metric('accuracy', logits, y, x)).toEqual([1, 1, 0, 0]);
    expect(metric('binaryAccuracy', logits, y, x)).toEqual([1, 1, 0, 0]);
    // The same values read as probabilities: none is above 0.5, so each counts as 0, right only where y = 0.
    expect(metric('binaryAccuracy', 'binaryCrossentropy', y, x)).toEqual([0, 1, 0, 1]);
  });

  it('is refused as ambiguous with a regression or custom loss, naming the accuracies to choose from', () => {
    for (const loss of [resolveLoss('meanSquaredError'), resolveLoss({ name: 'mine', fn: (y, p) => tf.sub(y, p).sum(-1) as tf.Tensor1D })]) {
      const error = catchError(() => resolveMetrics(['accuracy'], loss));
      expect(error).toBeInstanceOf(FitstreamInputError);
      expect(error).toMatchObject({ argument: 'metrics' });
      expect(error.message).toBe(`metrics: 'accuracy' is ambiguous with loss '${loss.name}'; name the accuracy you mean: 'binaryAccuracy', 'categoricalAccuracy' or 'sparseCategoricalAccuracy'.`);
    }
  });
});

describe('resolveMetrics', () => {
  const loss = resolveLoss('categoricalCrossentropy');

  it('keeps the order and the names as given', () => {
    expect(resolveMetrics(['mae', 'accuracy', 'meanSquaredError'], loss).map((m) => m.name)).toEqual(['mae', 'accuracy', 'meanSquaredError']);
    expect(resolveMetrics([], loss)).toEqual([]);
  });

  it('refuses an unknown name with a FitstreamInputError naming the argument and listing the known metrics', () => {
    const error = catchError(() => resolveMetrics(['acuracy' as BuiltinMetricName], loss));
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect(error).toMatchObject({ argument: 'metrics' });
    expect(error.message).toBe(
      'metrics: unknown metric "acuracy". Known metrics: accuracy, binaryAccuracy, categoricalAccuracy, sparseCategoricalAccuracy, meanSquaredError, meanAbsoluteError, mse, mae; or pass { name, fn } for a custom one.',
    );
    expect(catchError(() => resolveMetrics(['f1' as BuiltinMetricName], loss, 'metrics.out1'))).toMatchObject({ argument: 'metrics.out1' });
  });

  it('refuses a metric listed twice, or one named "loss"', () => {
    const twice = catchError(() => resolveMetrics(['mse', 'accuracy', 'mse'], loss));
    expect(twice).toBeInstanceOf(FitstreamInputError);
    expect(twice.message).toBe('metrics: "mse" is listed twice (or collides with "loss"); list each metric once.');
    expect(catchError(() => resolveMetrics([defineMetric('loss', (y) => y as tf.Tensor1D)], loss)).message).toMatch(/"loss" is listed twice \(or collides with "loss"\)/);
  });

  it('refuses a malformed custom metric', () => {
    for (const bad of [{ name: '', fn: () => tf.scalar(0) }, { name: 'x' }, { name: 3, fn: () => tf.scalar(0) }]) {
      const error = catchError(() => resolveMetrics([bad as unknown as MetricSpec], loss));
      expect(error).toBeInstanceOf(FitstreamInputError);
      expect(error.message).toBe('metrics: a custom metric is { name: string, fn: (yTrue, yPred) => per-sample values }.');
    }
  });
});

describe('defineMetric', () => {
  it('returns { name, fn } as given; resolveMetrics passes it through under its name', () => {
    const fn = (y: tf.Tensor, p: tf.Tensor) => tf.abs(tf.sub(y, p)).max(-1) as tf.Tensor1D;
    const maxError = defineMetric('maxError', fn);
    expect(maxError).toEqual({ name: 'maxError', fn });
    const [resolved] = resolveMetrics(['mae', maxError], resolveLoss('meanSquaredError')).slice(1);
    expect(resolved).toEqual({ name: 'maxError', fn });
    expectClose(tidyValues(() => resolved!.fn(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[1, -3], [1, 1.5]]))), [3, 0.5]);
  });

  it('a top-2 accuracy: 1 where the target class is among the two largest predictions', () => {
    const top2 = defineMetric('top2', (y, p) => topK(y, p, 2));
    expect(metric(top2, 'categoricalCrossentropy', categoricalY, classP)).toEqual([1, 1]);
    expect(metric(top2, 'categoricalCrossentropy', () => tf.tensor2d([[1, 0, 0]]), () => tf.tensor2d([[0.1, 0.5, 0.4]]))).toEqual([0]);
  });
});

describe('no tensor leaks', () => {
  it('resolving creates no tensor; inside tf.tidy each metric leaves only its result', () => {
    const before = tf.memory().numTensors;
    const cases: [ResolvedLoss, () => tf.Tensor, () => tf.Tensor][] = [
      [resolveLoss('binaryCrossentropy'), binaryY, binaryP],
      [resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }), binaryY, binaryP],
      [resolveLoss('categoricalCrossentropy'), categoricalY, classP],
      [resolveLoss('sparseCategoricalCrossentropy'), sparseY, classP],
    ];
    for (const [loss, yTrue, yPred] of cases) {
      const specs: MetricSpec[] = loss.kind === 'sparse' ? ['accuracy', 'sparseCategoricalAccuracy'] : loss.kind === 'binary' ? ['accuracy', 'binaryAccuracy', 'mse', 'mae'] : ['accuracy', 'categoricalAccuracy', 'meanSquaredError', 'meanAbsoluteError'];
      const metrics = resolveMetrics(specs, loss);
      expect(tf.memory().numTensors).toBe(before);
      const [y, p] = [yTrue(), yPred()];
      for (const m of metrics) tf.tidy(() => m.fn(y, p)).dispose();
      tf.dispose([y, p]);
      expect(tf.memory().numTensors, loss.name).toBe(before);
    }
  });
});

/** 1 where the target's class is among the `k` largest predictions (the rank of `p` at the class < k). */
function topK(y: tf.Tensor, p: tf.Tensor, k: number): tf.Tensor1D {
  const classValue = tf.sum(tf.mul(y, p), -1, true);
  return tf.less(tf.sum(tf.greater(p, classValue).toFloat(), -1), k).toFloat() as tf.Tensor1D;
}
