import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, LossTransform, provide, type Plugin } from '@fitstream/core';
import { nonNegative, requireOptions } from '../assert.js';
import { DeviceAccumulator, reportAccumulated, resolveReport, type ReportSetting } from '../report/reporter.js';
import { SelectionCache, selector, type WeightSelection } from '../selection.js';

/** Options of {@link weightPenalty}. An omitted coefficient is 0 (unlike tfjs `l1l2()`, which defaults both to 0.01). */
export interface WeightPenaltyOptions extends WeightSelection {
  /** Coefficient of `Σ|w|` (default 0). */
  readonly l1?: number;
  /** Coefficient of `Σw²` — no ½, as Keras (default 0). */
  readonly l2?: number;
  /** Plugin name, unique per trainer (default `'weight-penalty'`). */
  readonly name?: string;
  /** `regulariser:report` with the penalty (kind `'penalty'`); default every step, read lazily. */
  readonly report?: ReportSetting;
}

/**
 * The penalty `l1·Σ|w| + l2·Σw²` over `weights` (Keras `L1L2` semantics: no ½ on the L2 term), as a scalar.
 *
 * @example
 * ```ts
 * penaltyValue([tf.tensor2d([[1, -2], [3, 0]])], { l1: 0.1, l2: 0.01 }).dataSync(); // [0.1·6 + 0.01·14] = [0.74]
 * ```
 */
export function penaltyValue(weights: readonly tf.Tensor[], coefficients: { readonly l1?: number; readonly l2?: number }): tf.Scalar {
  const l1 = coefficients.l1 ?? 0;
  const l2 = coefficients.l2 ?? 0;
  return tf.tidy(() => {
    let total: tf.Scalar = tf.scalar(0);
    for (const w of weights) {
      if (l1 !== 0) total = tf.add(total, tf.mul(l1, tf.sum(tf.abs(w))));
      if (l2 !== 0) total = tf.add(total, tf.mul(l2, tf.sum(tf.square(w))));
    }
    return total;
  });
}

/**
 * Adds an L1/L2 weight penalty to the training loss, inside the gradient tape (a `LossTransform` on the batch total).
 * Acts on the kernels by default (see {@link WeightSelection}); use several penalties with distinct `name`s for
 * per-layer coefficients. The training `loss` metric includes the penalty; validation losses do not (core runs no
 * loss transforms in inference mode). Reports `regulariser:report` (kind `'penalty'`): `penalty` of the last batch,
 * `meanPenalty` since the previous report.
 *
 * @example
 * ```ts
 * trainer.use(weightPenalty({ l2: 1e-4 }));                                   // every kernel
 * trainer.use(weightPenalty({ name: 'head-l1', l1: 1e-5, layers: ['head'] })); // one layer
 * ```
 */
export function weightPenalty(options: WeightPenaltyOptions): Plugin {
  requireOptions(options, 'weightPenalty', '{ l2: 1e-4 }');
  const l1 = nonNegative(options.l1 ?? 0, 'weightPenalty: l1');
  const l2 = nonNegative(options.l2 ?? 0, 'weightPenalty: l2');
  const name = options.name ?? 'weight-penalty';
  const report = resolveReport(options.report, `${name}: report`);
  const cache = new SelectionCache(selector(options, name));
  const accumulator = new DeviceAccumulator(['penalty', 'meanPenalty'] as const, ['last', 'mean']);
  // Looks like distillation's in distillation.ts (every plugin is { name, register: provide(…), attach }); stays apart: a total-loss term vs a per-sample teacher loss.
  return {
    name,
    register: (c) =>
      provide(c, LossTransform, {
        name,
        total: (loss, ctx) => {
          const selected = cache.select(ctx.variables);
          if (selected.length === 0) {
            throw new FitstreamInputError(name, `no trainable weight matches its selection (weights: ${ctx.variables.map((v) => v.name).join(', ')}); check layers/match, or set biases: true.`);
          }
          const penalty = penaltyValue(selected, { l1, l2 });
          if (report.every > 0) accumulator.record([penalty, penalty]);
          return tf.add(loss, penalty);
        },
      }),
    attach: (events$, control) => {
      return reportAccumulated(events$, control, accumulator, {
        name,
        report,
        body: (values) => ({ kind: 'penalty', l1, l2, values }),
      });
    },
  };
}

/** An L1 penalty `λ·Σ|w|` on the selected weights. @example `trainer.use(l1(1e-5))` */
export function l1(lambda: number, options: Omit<WeightPenaltyOptions, 'l1' | 'l2'> = {}): Plugin {
  return weightPenalty({ ...options, l1: lambda, name: options.name ?? 'l1' });
}

/** An L2 penalty `λ·Σw²` (no ½) on the selected weights. @example `trainer.use(l2(1e-4))` */
export function l2(lambda: number, options: Omit<WeightPenaltyOptions, 'l1' | 'l2'> = {}): Plugin {
  return weightPenalty({ ...options, l2: lambda, name: options.name ?? 'l2' });
}

/** L1 + L2; an omitted coefficient is 0 (tfjs `l1l2` would silently add 0.01). @example `trainer.use(l1l2({ l2: 1e-4 }))` */
export function l1l2(options: WeightPenaltyOptions): Plugin {
  return weightPenalty({ ...options, name: options.name ?? 'l1l2' });
}
