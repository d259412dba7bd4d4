import type * as tf from '@tensorflow/tfjs';
import { BatchTransform, provide, type Plugin, type Random } from '@fitstream/core';
import { reportOnSteps, type ReportBody, type ReportPayload, type ResolvedReport } from '../report/reporter.js';

/**
 * The shape every input-perturbing regulariser shares (Gaussian input noise, variational dropout): a training-only
 * `BatchTransform` applying `perturb` to each selected input with a stream of `(seed, epoch, batch, plugin name)`,
 * plus a report on every n-th step.
 */
export function inputTransformPlugin(options: {
  readonly name: string;
  /** Input indices to perturb in multi-input batches; `undefined`: all (perturb decides what it skips). */
  readonly inputs: ReadonlySet<number> | undefined;
  /** `index` is `undefined` for single-input batches. */
  readonly perturb: (x: tf.Tensor, random: Random, index: number | undefined) => tf.Tensor;
  readonly report: ResolvedReport;
  readonly body: () => ReportBody<ReportPayload>;
}): Plugin {
  const { name, inputs, perturb, report, body } = options;
  // Looks like label-smoothing.ts's plugin (every plugin is { name, register: provide(…), attach }); that one acts on the targets and checks output names.
  return {
    name,
    register: (c) =>
      provide(c, BatchTransform, {
        name,
        applyTo: 'train',
        transform: (batch, ctx) => {
          if (!ctx.training) return batch;
          const random = ctx.random.derive(`@fitstream/regularisers/${name}`);
          const x = Array.isArray(batch.x)
            ? (batch.x as readonly tf.Tensor[]).map((t, i) => (inputs && !inputs.has(i) ? t : perturb(t, random, i)))
            : perturb(batch.x as tf.Tensor, random, undefined);
          return { ...batch, x };
        },
      }),
    attach: (events$, control) => reportOnSteps(events$, control, { name, report, body }),
  };
}
