import * as tf from '@tensorflow/tfjs';
import { GradientTransform, WeightConstraint, provide, type Plugin } from '@fitstream/core';
import { nonNegative, requireOptions } from '../assert.js';
import { hostValues, reportOnSteps, resolveReport, type ReportSetting } from '../report/reporter.js';
import { SelectionCache, selector, type WeightSelection } from '../selection.js';

/** Options of {@link decoupledWeightDecay}. */
export interface DecoupledWeightDecayOptions extends WeightSelection {
  /** The decay `wd` (PyTorch `AdamW(weight_decay)`, e.g. 0.01); each applied step shrinks weights by `lr·wd`. */
  readonly rate: number;
  /** Plugin name, unique per trainer (default `'weight-decay'`). */
  readonly name?: string;
  /** `regulariser:report` (kind `'weight-decay'`, host values only: never a device read); default every step. */
  readonly report?: ReportSetting;
}

// The preamble of every regulariser factory (options object, range check, name, report), alike by design; the plugin follows.
/**
 * Decoupled weight decay (Loshchilov & Hutter, AdamW) for any optimizer: after each applied update,
 * `w ← w_updated − lr·wd·w_before`, where `w_before` is the weight before the update and `lr` the learning rate of the
 * step. Since Adam/SGD/RMSProp updates do not depend on the weight itself, this equals PyTorch `AdamW` exactly
 * (`p ← p − lr·wd·p`, then the Adam step), independently of the gradient's adaptive scaling — unlike an L2 penalty,
 * which Adam divides by √v. With `optimizer: 'adam'` this is AdamW; with `'sgd'` it equals an L2 penalty of `wd/2`.
 *
 * How: a `GradientTransform` (stage `post-reduce`) snapshots the selected weights just before the optimizer runs
 * (a copy-free clone that keeps the old buffer), and a `WeightConstraint` subtracts `lr·wd·w_before` after it. A step
 * skipped by a gradient transform is not decayed. Register weight constraints (max-norm) after this plugin so that
 * they see the decayed weights. Acts on kernels by default (PyTorch decays every parameter it is given; the common
 * practice, and this default, excludes biases and normalisation weights: `biases: true` includes them).
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' })
 *   .use(decoupledWeightDecay({ rate: 0.01 })); // AdamW(lr=1e-3, weight_decay=0.01), biases excluded
 * ```
 */
export function decoupledWeightDecay(options: DecoupledWeightDecayOptions): Plugin {
  requireOptions(options, 'decoupledWeightDecay', '{ rate: 0.01 }');
  const rate = nonNegative(options.rate, 'decoupledWeightDecay: rate');
  const name = options.name ?? 'weight-decay';
  const report = resolveReport(options.report, `${name}: report`);
  const cache = new SelectionCache(selector(options, name));
  // Pre-update values of the step in flight: created inside core's update tidy, so tfjs disposes them at its end
  // whether or not the update was applied.
  let before: Map<string, tf.Tensor> | undefined;
  let lastRate: { learningRate: number } | undefined;
  return {
    name,
    register: (c) => {
      provide(c, GradientTransform, {
        name,
        stage: 'post-reduce',
        transform: (grads, ctx) => {
          before = new Map();
          if (rate === 0) return grads;
          for (const v of ctx.variables) {
            if (grads[v.name] && cache.has(v)) before.set(v.name, tf.clone(v));
          }
          return grads;
        },
      });
      provide(c, WeightConstraint, {
        name,
        apply: (variables, ctx) => {
          const snapshot = before;
          before = undefined;
          lastRate = { learningRate: ctx.learningRate };
          if (!snapshot || rate === 0) return;
          const factor = ctx.learningRate * rate;
          for (const v of variables) {
            const w0 = snapshot.get(v.name);
            if (w0) v.assign(tf.sub(v, tf.mul(w0, factor)));
          }
        },
      });
    },
    attach: (events$, control) => {
      lastRate = undefined;
      return reportOnSteps(events$, control, {
        name,
        report,
        body: () => {
          if (!lastRate) return undefined;
          const { learningRate } = lastRate;
          return { kind: 'weight-decay', values: hostValues({ rate, learningRate, factor: learningRate * rate }) };
        },
      });
    },
  };
}
