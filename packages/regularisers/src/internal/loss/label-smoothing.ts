import * as tf from '@tensorflow/tfjs';
import { BatchTransform, FitstreamInputError, provide, type Plugin } from '@fitstream/core';
import { probability } from '../assert.js';
import { hostValues, reportOnSteps, resolveReport, type ReportSetting } from '../report/reporter.js';
import { smoothLabels } from './cross-entropy.js';

/** Options of {@link labelSmoothing}. */
export interface LabelSmoothingOptions {
  readonly name?: string;
  /** `regulariser:report` (kind `'label-smoothing'`, host values); default every step. */
  readonly report?: ReportSetting;
}

/**
 * Categorical label smoothing for training batches, `y(1−ε) + ε/K` on one-hot targets — works with core's built-in
 * `'categoricalCrossentropy'` (probabilities or logits) and keeps `categoricalAccuracy` exact (argmax is unchanged).
 * Validation sees the original targets. For binary targets use `loss: binaryCrossentropy({ labelSmoothing })`
 * instead: smoothing binary targets in the batch would break the training `binaryAccuracy`, which compares targets to
 * 0/1 — this plugin refuses `[batch, 1]` targets with that advice.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] }).use(labelSmoothing(0.1));
 * ```
 */
export function labelSmoothing(epsilon: number, options: LabelSmoothingOptions = {}): Plugin {
  probability(epsilon, 'labelSmoothing: epsilon');
  const name = options.name ?? 'label-smoothing';
  const report = resolveReport(options.report, `${name}: report`);
  return {
    name,
    register: (c) =>
      provide(c, BatchTransform, {
        name,
        applyTo: 'train',
        transform: (batch, ctx) => {
          if (!ctx.training || epsilon === 0) return batch;
          const y = batch.y;
          if (y.rank < 2 || y.shape[y.rank - 1]! < 2) {
            throw new FitstreamInputError(name, `targets of shape [${y.shape.join(', ')}] are not one-hot; for binary targets use loss: binaryCrossentropy({ labelSmoothing }), for sparse ones one-hot encode them or use categoricalCrossentropy({ labelSmoothing }).`);
          }
          return { ...batch, y: smoothLabels(tf.cast(y, 'float32'), epsilon, 'categorical') };
        },
      }),
    attach: (events$, control) => reportOnSteps(events$, control, { name, report, body: () => ({ kind: 'label-smoothing', values: hostValues({ epsilon }) }) }),
  };
}
