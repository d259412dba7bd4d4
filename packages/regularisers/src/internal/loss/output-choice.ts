import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, type LossContext, type TrainableModel } from '@fitstream/core';

/**
 * Which output of a multi-output model a loss-side plugin acts on: its `output` option, checked against the model's
 * output names. `every` plugins (a reduction) act on every output when `output` is not given; `one` plugins (class
 * weights, label smoothing, distillation) refuse a model with several outputs unless `output` names one of them.
 */
export interface OutputChoice {
  /** The function the user called (`classWeights`), named in errors. */
  readonly plugin: string;
  /** The `output` option, if given. */
  readonly output: string | undefined;
  /** `'one'`: several outputs need `output`; `'every'`: without `output`, every output. */
  readonly scope: 'one' | 'every';
  /** What the plugin does to an output, for the refusal: `pass output: 'a' to <verb> one of them`. */
  readonly verb: string;
}

/** Validates the `output` option itself (a non-empty string, or absent). */
export function outputOption(value: unknown, plugin: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new FitstreamInputError(`${plugin}: output`, `must be the name of one of the model's outputs, got ${JSON.stringify(value)}.`);
  return value;
}

/** The output names core gives a model: a LayersModel's output layer names; a FunctionModel's `outputNames` or `['output']`. */
export function outputNamesOf(model: TrainableModel): readonly string[] {
  if (model instanceof tf.LayersModel) return model.outputNames;
  return model.outputNames ?? ['output'];
}

const listed = (outputs: readonly string[]) => outputs.join(', ');

/** Throws a {@link FitstreamInputError} when the choice does not fit the model's outputs. */
export function checkOutputChoice(choice: OutputChoice, outputs: readonly string[]): void {
  const { plugin, output, scope, verb } = choice;
  if (output !== undefined) {
    if (!outputs.includes(output)) {
      throw new FitstreamInputError(`${plugin}: output`, `names "${output}", which the model does not output; its output${outputs.length === 1 ? ' is' : 's are'} ${listed(outputs.map((o) => `"${o}"`))}.`);
    }
    return;
  }
  if (scope === 'one' && outputs.length > 1) {
    throw new FitstreamInputError(plugin, `the model has ${outputs.length} outputs (${listed(outputs)}); pass output: '${outputs[0]}' to ${verb} one of them.`);
  }
}

/** Whether a `perSample` call (one per output) is for an output the plugin acts on; refuses a choice that does not fit. */
export function actsOn(choice: OutputChoice, ctx: Pick<LossContext, 'output' | 'outputs'>): boolean {
  checkOutputChoice(choice, ctx.outputs);
  if (choice.output === undefined || ctx.outputs.length === 1) return true;
  return ctx.output === choice.output;
}

/** A plugin's default name, suffixed with its output (`class-weights:species`) so that one per output can be used. */
export function withOutput(name: string, output: string | undefined): string {
  return output === undefined ? name : `${name}:${output}`;
}
