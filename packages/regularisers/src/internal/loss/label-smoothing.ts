import * as tf from '@tensorflow/tfjs';
import { BatchTransform, FitstreamInputError, provide, type Plugin, type Targets } from '@fitstream/core';
import { probability } from '../assert.js';
import { hostValues, reportOnSteps, resolveReport, type ReportSetting } from '../report/reporter.js';
import { smoothLabels } from './cross-entropy.js';
import { checkOutputChoice, outputNamesOf, outputOption, withOutput, type OutputChoice } from './output-choice.js';

/** Options of {@link labelSmoothing}. */
export interface LabelSmoothingOptions {
  /**
   * The output whose targets are smoothed, by name, for a model with several outputs; the other outputs' targets are
   * left as they are. Required when the batch has several targets; optional otherwise (then it must name the one
   * output).
   */
  readonly output?: string;
  /** The plugin's name (default `'label-smoothing'`, or `'label-smoothing:<output>'` with `output`). */
  readonly name?: string;
  /** `regulariser:report` (kind `'label-smoothing'`, host values); default every step. */
  readonly report?: ReportSetting;
}

/**
 * Categorical label smoothing for training batches, `y(1−ε) + ε/K` on one-hot targets — works with core's built-in
 * `'categoricalCrossentropy'` (probabilities or logits) and keeps `categoricalAccuracy` exact (argmax is unchanged).
 * Validation sees the original targets. For binary targets use `loss: binaryCrossentropy({ labelSmoothing })`
 * instead: smoothing binary targets in the batch would break the training `binaryAccuracy`, which compares targets to
 * 0/1 — this plugin refuses `[batch, 1]` targets with that advice. For a model with several outputs, `output` names
 * the output to smooth: only its targets change, in the batch's own structure (an array in output order or a map by
 * output name); without it the plugin refuses the fit with a `FitstreamInputError` listing the outputs.
 *
 * @example
 * ```ts
 * createTrainer({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] }).use(labelSmoothing(0.1));
 * trainer.use(labelSmoothing(0.1, { output: 'species' })); // a multi-output model: smooth one output's targets
 * ```
 */
export function labelSmoothing(epsilon: number, options: LabelSmoothingOptions = {}): Plugin {
  probability(epsilon, 'labelSmoothing: epsilon');
  const choice: OutputChoice = { plugin: 'labelSmoothing', output: outputOption(options.output, 'labelSmoothing'), scope: 'one', verb: 'smooth' };
  const name = options.name ?? withOutput('label-smoothing', choice.output);
  const report = resolveReport(options.report, `${name}: report`);
  /** The model's output names, known once a fit has started (`undefined` when the hook is called directly). */
  let outputs: readonly string[] | undefined;

  const smooth = (y: tf.Tensor, where: string): tf.Tensor => {
    if (y.rank < 2 || y.shape[y.rank - 1]! < 2) {
      throw new FitstreamInputError(where, `targets of shape [${y.shape.join(', ')}] are not one-hot; for binary targets use loss: binaryCrossentropy({ labelSmoothing }), for sparse ones one-hot encode them or use categoricalCrossentropy({ labelSmoothing }).`);
    }
    return smoothLabels(tf.cast(y, 'float32'), epsilon, 'categorical');
  };

  /** The batch's targets with the chosen output's smoothed, in the same structure. */
  const transformTargets = (y: Targets): Targets => {
    if (y instanceof tf.Tensor) {
      if (outputs) checkOutputChoice(choice, outputs);
      return smooth(y, name);
    }
    if (Array.isArray(y)) {
      const list = y as readonly tf.Tensor[];
      let names = outputs;
      if (!names) {
        // Called outside a fit: the output names are not known.
        if (list.length === 1) return [smooth(list[0]!, name)];
        if (choice.output !== undefined) {
          throw new FitstreamInputError(`${name}: output`, `cannot find output "${choice.output}" in an array of targets outside a fit; use the plugin through trainer.use, or give the targets as a map by output name.`);
        }
        names = list.map((_, i) => `output_${i}`);
      }
      checkOutputChoice(choice, names);
      const i = choice.output === undefined ? 0 : names.indexOf(choice.output);
      if (i >= list.length) throw new FitstreamInputError(name, `the batch has ${list.length} targets but output "${choice.output}" is output ${i} of ${listed(names)}.`);
      return list.map((t, j) => (j === i ? smooth(t, choice.output === undefined ? name : `${name} (output "${choice.output}")`) : t));
    }
    const map = y as { readonly [output: string]: tf.Tensor };
    const keys = Object.keys(map);
    checkOutputChoice(choice, outputs ?? keys);
    const key = choice.output ?? keys[0]!;
    if (!(key in map)) throw new FitstreamInputError(name, `the batch has no targets for output "${key}" (it has ${listed(keys)}).`);
    return { ...map, [key]: smooth(map[key]!, choice.output === undefined ? name : `${name} (output "${key}")`) };
  };

  // A training-only BatchTransform as in noise/input-transform-plugin.ts, but on the targets, not the inputs.
  return {
    name,
    register: (c) =>
      provide(c, BatchTransform, {
        name,
        applyTo: 'train',
        transform: (batch, ctx) => {
          if (!ctx.training || epsilon === 0) return batch;
          return { ...batch, y: transformTargets(batch.y) };
        },
      }),
    attach: (events$, control) => {
      outputs = outputNamesOf(control.model);
      // Refused when the fit starts, before any step, rather than inside the first one.
      checkOutputChoice(choice, outputs);
      const subscription = reportOnSteps(events$, control, { name, report, body: () => ({ kind: 'label-smoothing', values: hostValues({ epsilon }) }) });
      subscription.add(() => {
        outputs = undefined;
      });
      return subscription;
    },
  };
}

const listed = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');
