import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { describe, expect, it } from 'vitest';
import { catchError, expectClose, kerasWeightedMean, tidyValues } from '../test-support/fixtures.js';
import { LOSS_NAMES, meanPerSample, resolveLoss, type LossName, type LossSpec } from './losses.js';

/** `−log(clip(p, 1e-7, 1 − 1e-7))` as Keras computes it for a target of 1. */
const nll = (p: number) => -Math.log(Math.min(Math.max(p, 1e-7), 1 - 1e-7));
/** `log(1 + e^x)`. */
const softplus = (x: number) => Math.log1p(Math.exp(x));

// Keras' docstring examples (keras/src/losses/losses.py): two samples of two values unless noted.
const Y = [[0, 1], [0, 0]];
const P_REGRESSION = [[1, 1], [1, 0]];
const P_PROBABILITIES = [[0.6, 0.4], [0.4, 0.6]];
const Y_CATEGORICAL = [[0, 1, 0], [0, 0, 1]];
const P_CATEGORICAL = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]];

interface LossCase {
  readonly yTrue: () => tf.Tensor;
  readonly yPred: () => tf.Tensor;
  /** Per-sample values, hand-computed. */
  readonly perSample: readonly number[];
  /** Keras' documented value: the batch mean, and with the sample weights `weights` (sum over batch size). */
  readonly keras: { readonly mean: number; readonly weights: readonly number[]; readonly weighted: number };
}

// Every built-in loss: `satisfies Record<LossName, …>` fails to compile when a name is added without a case.
const CASES = {
  meanSquaredError: {
    yTrue: () => tf.tensor2d(Y),
    yPred: () => tf.tensor2d(P_REGRESSION),
    perSample: [(1 + 0) / 2, (1 + 0) / 2],
    keras: { mean: 0.5, weights: [0.7, 0.3], weighted: 0.25 },
  },
  meanAbsoluteError: {
    yTrue: () => tf.tensor2d(Y),
    yPred: () => tf.tensor2d(P_REGRESSION),
    perSample: [(1 + 0) / 2, (1 + 0) / 2],
    keras: { mean: 0.5, weights: [0.7, 0.3], weighted: 0.25 },
  },
  huber: {
    yTrue: () => tf.tensor2d(Y),
    yPred: () => tf.tensor2d(P_PROBABILITIES),
    // |error| ≤ δ = 1 everywhere: ½·error², averaged over the last axis.
    perSample: [(0.5 * 0.36 + 0.5 * 0.36) / 2, (0.5 * 0.16 + 0.5 * 0.36) / 2],
    keras: { mean: 0.155, weights: [1, 0], weighted: 0.09 },
  },
  binaryCrossentropy: {
    yTrue: () => tf.tensor2d(Y),
    yPred: () => tf.tensor2d(P_PROBABILITIES),
    perSample: [(nll(1 - 0.6) + nll(0.4)) / 2, (nll(1 - 0.4) + nll(1 - 0.6)) / 2],
    keras: { mean: 0.815, weights: [1, 0], weighted: 0.458 },
  },
  categoricalCrossentropy: {
    yTrue: () => tf.tensor2d(Y_CATEGORICAL),
    yPred: () => tf.tensor2d(P_CATEGORICAL),
    perSample: [nll(0.95), nll(0.1)],
    keras: { mean: 1.177, weights: [0.3, 0.7], weighted: 0.814 },
  },
  sparseCategoricalCrossentropy: {
    yTrue: () => tf.tensor1d([1, 2]),
    yPred: () => tf.tensor2d(P_CATEGORICAL),
    perSample: [nll(0.95), nll(0.1)],
    keras: { mean: 1.177, weights: [0.3, 0.7], weighted: 0.814 },
  },
} satisfies Record<LossName, LossCase>;

describe('built-in losses: one value per sample, as Keras computes them before its reduction', () => {
  it('LOSS_NAMES lists every built-in loss', () => {
    expect([...LOSS_NAMES].sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const name of LOSS_NAMES) {
    const c: LossCase = CASES[name];
    it(`${name}: hand-computed per-sample values; Keras' documented mean and sample-weighted mean`, () => {
      const perSample = tidyValues(() => resolveLoss(name).fn(c.yTrue(), c.yPred()));
      expectClose(perSample, c.perSample, 1e-6);
      // Keras prints three decimals.
      expect(perSample.reduce((a, b) => a + b, 0) / perSample.length).toBeCloseTo(c.keras.mean, 3);
      expect(kerasWeightedMean(perSample, c.keras.weights)).toBeCloseTo(c.keras.weighted, 3);
    });
  }

  it('average over every axis but the batch axis: [batch, steps, features] gives [batch]', () => {
    const y = [[[0, 1], [1, 1]], [[2, 2], [0, 0]]];
    const p = [[[1, 1], [1, 3]], [[2, 2], [0, 4]]];
    expectClose(tidyValues(() => resolveLoss('meanSquaredError').fn(tf.tensor3d(y), tf.tensor3d(p))), [(1 + 0 + 0 + 4) / 4, (0 + 0 + 0 + 16) / 4]);
    expectClose(tidyValues(() => resolveLoss('meanAbsoluteError').fn(tf.tensor3d(y), tf.tensor3d(p))), [(1 + 0 + 0 + 2) / 4, (0 + 0 + 0 + 4) / 4]);
  });

  it('huber is linear beyond δ = 1: |e| − ½', () => {
    expectClose(tidyValues(() => resolveLoss('huber').fn(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, -1.5]]))), [(3 - 0.5 + (1.5 - 0.5)) / 2]);
  });

  it('cross-entropies clip probabilities to [1e-7, 1 − 1e-7] (Keras epsilon): finite at 0 and 1', () => {
    // y = 0, p = 1: 1 − clip(p) is 1 − float32(1 − 1e-7) = 2⁻²³, so −log gives 15.942 in float32 (Keras' too), not 16.118.
    const atOne = -Math.log(1 - Math.fround(1 - 1e-7));
    expectClose(tidyValues(() => resolveLoss('binaryCrossentropy').fn(tf.tensor2d([[1], [0], [1]]), tf.tensor2d([[0], [1], [1]]))), [nll(0), atOne, 0], 1e-5);
    // A prediction of exactly 0 for the true class: −log(1e-7) ≈ 16.118.
    expectClose(tidyValues(() => resolveLoss('categoricalCrossentropy').fn(tf.tensor2d([[1, 0]]), tf.tensor2d([[0, 1]]))), [nll(0)], 1e-5);
  });

  it('categoricalCrossentropy rescales predictions to sum to 1 first (Keras does too)', () => {
    expectClose(tidyValues(() => resolveLoss('categoricalCrossentropy').fn(tf.tensor2d([[0, 1]]), tf.tensor2d([[1, 3]]))), [nll(0.75)]);
  });

  it('sparseCategoricalCrossentropy takes labels as [batch] or [batch, 1], float or int', () => {
    const expected = [nll(0.95), nll(0.1)];
    expectClose(tidyValues(() => resolveLoss('sparseCategoricalCrossentropy').fn(tf.tensor2d([[1], [2]]), tf.tensor2d(P_CATEGORICAL))), expected);
    expectClose(tidyValues(() => resolveLoss('sparseCategoricalCrossentropy').fn(tf.tensor1d([1, 2], 'int32'), tf.tensor2d(P_CATEGORICAL))), expected);
  });

  it('sparseCategoricalCrossentropy on sequence outputs: labels [batch, steps] for [batch, steps, classes], the mean over steps', () => {
    const p = [[[0.9, 0.1], [0.25, 0.75]], [[0.5, 0.5], [0.2, 0.8]]];
    const expected = [(nll(0.9) + nll(0.75)) / 2, (nll(0.5) + nll(0.2)) / 2];
    expectClose(tidyValues(() => resolveLoss('sparseCategoricalCrossentropy').fn(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor3d(p))), expected);
    expectClose(tidyValues(() => resolveLoss('sparseCategoricalCrossentropy').fn(tf.tensor3d([[[0], [1]], [[1], [0]]], undefined, 'int32'), tf.tensor3d(p))), expected);
  });
});

describe('fromLogits: the cross-entropies of sigmoid/softmax of the predictions, computed stably', () => {
  it('binaryCrossentropy: Keras’ documented example, 0.865', () => {
    const x = [-18.6, 0.51, 2.94, -12.8];
    const y = [0, 1, 0, 0];
    const loss = resolveLoss({ name: 'binaryCrossentropy', fromLogits: true });
    expect(loss.fromLogits).toBe(true);
    const [value] = tidyValues(() => loss.fn(tf.tensor2d([y]), tf.tensor2d([x])));
    // −y·log σ(x) − (1 − y)·log(1 − σ(x)) = softplus(x) − x·y
    expect(value).toBeCloseTo(x.reduce((s, xi, i) => s + softplus(xi) - xi * y[i]!, 0) / 4, 6);
    expect(value).toBeCloseTo(0.865, 3);
  });

  it('binaryCrossentropy stays finite and exact for large logits (no clipping)', () => {
    const values = tidyValues(() => resolveLoss({ name: 'binaryCrossentropy', fromLogits: true }).fn(tf.tensor2d([[1], [0], [1]]), tf.tensor2d([[-100], [100], [100]])));
    expectClose(values, [100, 100, 0], 1e-4);
  });

  it('categoricalCrossentropy and sparseCategoricalCrossentropy: log Σ e^x − x_true', () => {
    const x = [[1, 2, 3], [0, 0, 0]];
    const expected = [Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 2, Math.log(3)];
    expectClose(tidyValues(() => resolveLoss({ name: 'categoricalCrossentropy', fromLogits: true }).fn(tf.tensor2d([[0, 1, 0], [1, 0, 0]]), tf.tensor2d(x))), expected, 1e-6);
    expectClose(tidyValues(() => resolveLoss({ name: 'sparseCategoricalCrossentropy', fromLogits: true }).fn(tf.tensor1d([1, 0]), tf.tensor2d(x))), expected, 1e-6);
  });
});

describe('resolveLoss', () => {
  it('names the target kind of each built-in loss (what `accuracy` resolves against)', () => {
    const kinds = Object.fromEntries(LOSS_NAMES.map((n) => [n, resolveLoss(n).kind]));
    // Spelled out, not read from losses.ts' KIND table: this is the specification the table must meet.
    expect(kinds).toEqual({
      meanSquaredError: 'regression',
      meanAbsoluteError: 'regression',
      huber: 'regression',
      binaryCrossentropy: 'binary',
      categoricalCrossentropy: 'categorical',
      sparseCategoricalCrossentropy: 'sparse',
    });
    expect(resolveLoss({ name: 'huber' })).toMatchObject({ name: 'huber', kind: 'regression', fromLogits: false });
  });

  it('takes a function returning per-sample values, or values per element averaged per sample', () => {
    function squaredError(y: tf.Tensor, p: tf.Tensor) {
      return tf.squaredDifference(y, p);
    }
    const loss = resolveLoss(squaredError);
    expect(loss).toMatchObject({ name: 'squaredError', kind: 'custom', fromLogits: false });
    expectClose(tidyValues(() => loss.fn(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[1, 3], [1, 1]]))), [5, 0]);
    // An anonymous function is named 'loss'.
    expect(resolveLoss((y: tf.Tensor, p: tf.Tensor) => tf.sub(y, p)).name).toBe('loss');
  });

  it('takes { name, fn, kind, fromLogits } for a custom loss', () => {
    const fn = (y: tf.Tensor, p: tf.Tensor) => meanPerSample(tf.abs(tf.sub(y, p)));
    expect(resolveLoss({ name: 'l1', fn })).toMatchObject({ name: 'l1', kind: 'custom', fromLogits: false });
    expect(resolveLoss({ name: 'myBce', fn, kind: 'binary', fromLogits: true })).toMatchObject({ name: 'myBce', kind: 'binary', fromLogits: true });
  });

  it('refuses an unknown name with a FitstreamInputError naming the argument and listing the known losses', () => {
    const error = catchError(() => resolveLoss('crossEntropy' as LossName));
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect(error).toMatchObject({ argument: 'loss' });
    expect(error.message).toMatch(/^loss: unknown loss "crossEntropy"\. Use one of 'meanSquaredError', 'meanAbsoluteError', 'huber', 'binaryCrossentropy', 'categoricalCrossentropy', 'sparseCategoricalCrossentropy'/);
    expect(catchError(() => resolveLoss({ name: 'mse' as LossName }, 'loss.out1'))).toMatchObject({ argument: 'loss.out1' });
  });

  it('refuses fromLogits on a regression loss', () => {
    const error = catchError(() => resolveLoss({ name: 'meanSquaredError', fromLogits: true }));
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect(error.message).toBe("loss: fromLogits applies to cross-entropy losses only, not 'meanSquaredError'.");
  });

  it('refuses a custom loss whose fn is not a function or whose kind is unknown, naming the field', () => {
    expect(catchError(() => resolveLoss({ name: 'x', fn: 3 } as unknown as LossSpec))).toMatchObject({ name: 'FitstreamInputError', argument: 'loss.fn' });
    const kind = catchError(() => resolveLoss({ name: 'x', fn: (y: tf.Tensor) => y as tf.Tensor1D, kind: 'ordinal' } as unknown as LossSpec, 'loss.head'));
    expect(kind).toMatchObject({ name: 'FitstreamInputError', argument: 'loss.head.kind' });
    expect(kind.message).toMatch(/must be one of binary, categorical, sparse, regression, custom, got ordinal/);
  });

  it('refuses, when called, a function that returns a scalar (it could not be sample-weighted)', () => {
    const loss = resolveLoss((y: tf.Tensor, p: tf.Tensor) => tf.losses.meanSquaredError(y, p));
    let error = new Error('not called');
    tf.tidy(() => {
      error = catchError(() => loss.fn(tf.tensor2d([[1]]), tf.tensor2d([[2]])));
    });
    expect(error).toBeInstanceOf(FitstreamInputError);
    expect(error.message).toMatch(/^loss: returned a scalar; return one loss per sample.*tf\.Reduction\.NONE/);
  });
});

describe('meanPerSample', () => {
  it('averages every axis but the first and returns a [batch] tensor as it is', () => {
    expectClose(tidyValues(() => meanPerSample(tf.tensor2d([[1, 3], [2, 2]]))), [2, 2]);
    expectClose(tidyValues(() => meanPerSample(tf.tensor3d([[[1], [2]], [[3], [7]]]))), [1.5, 5]);
    tf.tidy(() => {
      const t = tf.tensor1d([4, 5]);
      expect(meanPerSample(t)).toBe(t);
    });
  });
});

describe('no tensor leaks', () => {
  it('resolving creates no tensor; inside tf.tidy each loss leaves only its result, and its gradient nothing', () => {
    const before = tf.memory().numTensors;
    const losses = [...LOSS_NAMES.map((n) => resolveLoss(n)), resolveLoss({ name: 'binaryCrossentropy', fromLogits: true })];
    expect(tf.memory().numTensors).toBe(before);
    for (const loss of losses) {
      const c: LossCase = CASES[loss.name as LossName];
      const [y, p] = [c.yTrue(), c.yPred()];
      const out = tf.tidy(() => loss.fn(y, p));
      const grad = tf.tidy(() => tf.grad((q: tf.Tensor) => loss.fn(y, q).sum())(p));
      expect(grad.shape).toEqual(p.shape);
      tf.dispose([y, p, out, grad]);
      expect(tf.memory().numTensors, loss.name).toBe(before);
    }
  });
});
