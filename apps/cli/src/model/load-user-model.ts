import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, type Random } from '@fitstream/core';
import { MODEL_EXTENSIONS, MODEL_KINDS, type UserModelSpec } from './model-spec.js';
import { moduleModel } from './module-model.js';
import { jsonModel, kerasArchive } from './topology-model.js';

/** What the data says the model must take and give, and where its fresh weights come from. */
export interface UserModelContext {
  /** One sample's shape, without the batch axis. */
  readonly inputShape: readonly number[];
  /** Output units: the number of classes for a classifier, of targets for a regression. */
  readonly outputUnits: number;
  readonly task: 'classification' | 'regression';
  /** The run's seed, handed to model modules. */
  readonly seed: number;
  /** Seeds fresh weights (a model without stored weights, a Keras archive, a model module). */
  readonly random: Random;
  /** Column names of the features, for error messages (a table's; absent for images and arrays). */
  readonly featureNames?: readonly string[];
  /** Class names, for error messages. */
  readonly classNames?: readonly string[];
  readonly log: (line: string) => void;
}

const shapeText = (shape: readonly (number | null)[]) => `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;

async function existingFile(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new FitstreamInputError('model', `${path} does not exist; pass --model ${MODEL_KINDS}.`);
  if (!info.isDirectory()) return path;
  const inside = join(path, 'model.json');
  if (await stat(inside).catch(() => undefined)) return inside;
  throw new FitstreamInputError('model', `${path} is a directory without a model.json; pass the model file itself (--model ${MODEL_KINDS}).`);
}

function features(context: UserModelContext, count: number): string {
  const names = context.featureNames;
  if (!names || names.length !== count) return `${count} feature${count === 1 ? '' : 's'}`;
  const shown = names.slice(0, 8).map((n) => (/[,\s]/.test(n) ? JSON.stringify(n) : n));
  return `${count} feature${count === 1 ? '' : 's'} (${shown.join(', ')}${names.length > 8 ? ', …' : ''})`;
}

/**
 * Checks that `model` fits the data: one input whose shape matches one sample, one output whose last axis has the
 * units the task needs. Each error names the model file, both shapes and the fix.
 */
export function checkModelFits(model: tf.LayersModel, context: UserModelContext, source: string): void {
  if (model.inputs.length !== 1) throw new FitstreamInputError('model', `${source} has ${model.inputs.length} inputs; fitstream fit trains models with one input (the feature table, or the images).`);
  if (model.outputs.length !== 1) throw new FitstreamInputError('model', `${source} has ${model.outputs.length} outputs; fitstream fit trains models with one output.`);
  const input = model.inputs[0]!.shape.slice(1);
  const want = context.inputShape;
  const fits = input.length === want.length && input.every((d, i) => d === null || d === want[i]);
  if (!fits) {
    const data = want.length === 1 ? features(context, want[0]!) : `samples of shape ${shapeText(want)}`;
    const has = input.length === 1 && input[0] !== null ? `${input[0]} features` : `inputs of shape ${shapeText(input)}`;
    throw new FitstreamInputError(
      'model',
      `${source} takes ${has} (input shape ${shapeText([null, ...input])}) but the data has ${data}; build the model's input for ${shapeText(want)} (tf.layers.dense({ inputShape: ${shapeText(want)}, … }), or keras.Input(shape=(${want.join(', ')}${want.length === 1 ? ',' : ''}))), or choose the feature columns with --features.`,
    );
  }
  const output = model.outputs[0]!.shape;
  const units = output[output.length - 1];
  if (output.length !== 2 || units !== context.outputUnits) {
    const what =
      context.task === 'classification'
        ? `${context.outputUnits} classes${context.classNames?.length ? ` (${context.classNames.slice(0, 8).join(', ')}${context.classNames.length > 8 ? ', …' : ''})` : ''}: end the model with a dense layer of ${context.outputUnits} units and a softmax`
        : `${context.outputUnits} target${context.outputUnits === 1 ? '' : 's'}: end the model with a dense layer of ${context.outputUnits} unit${context.outputUnits === 1 ? '' : 's'} and no activation`;
    throw new FitstreamInputError('model', `${source} gives outputs of shape ${shapeText(output)} but the data has ${what} (output shape ${shapeText([null, context.outputUnits])}).`);
  }
}

/** The activation of the layer that produces a model's output, when it has one. */
function outputActivation(model: tf.LayersModel): string | undefined {
  const layer = model.outputs[0]?.sourceLayer;
  const activation = (layer?.getConfig() as { activation?: unknown } | undefined)?.activation;
  return typeof activation === 'string' ? activation : undefined;
}

/**
 * The user's model for `fitstream fit`, from `spec.path` (`--model`): a tfjs layers `model.json` (its weights when it
 * has them, else fresh weights), a Keras 3 `.keras` archive or bare Keras `config.json` (fresh weights: HDF5 cannot be
 * read in JavaScript), or a JS/TS module whose builder gets `spec.with` and the data's shape. Fresh weights are drawn
 * from `context.random`, so the same seed gives the same model. The model is checked against the data
 * ({@link checkModelFits}); every error is a `FitstreamInputError` naming the file and the fix (exit code 2).
 *
 * @example
 * ```ts
 * const model = await loadUserModel({ path: 'model.ts', with: { hidden: 16 } }, {
 *   inputShape: [4], outputUnits: 3, task: 'classification', seed: 42, random: Random.fromSeed(42).derive('model-init'), log: console.error,
 * });
 * ```
 */
export async function loadUserModel(spec: UserModelSpec, context: UserModelContext): Promise<tf.LayersModel> {
  const file = await existingFile(spec.path);
  const extension = extname(file).toLowerCase();
  let model: tf.LayersModel;
  if ((MODEL_EXTENSIONS.json as readonly string[]).includes(extension)) model = await jsonModel(file, context.random, context.log);
  else if ((MODEL_EXTENSIONS.keras as readonly string[]).includes(extension)) model = await kerasArchive(file, context.random, context.log);
  else if ((MODEL_EXTENSIONS.module as readonly string[]).includes(extension)) {
    const { random: _r, log: _l, featureNames: _f, classNames: _c, ...build } = context;
    model = await moduleModel(file, spec.with ?? {}, build, context.random);
  } else throw new FitstreamInputError('model', `${file}: unknown kind of model file "${extension || '(no extension)'}"; --model takes ${MODEL_KINDS}.`);
  try {
    checkModelFits(model, context, file);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const activation = outputActivation(model);
  if (context.task === 'classification' && activation !== undefined && activation !== 'softmax') {
    context.log(`${file}: the output layer's activation is ${activation}, not softmax; the classification loss expects probabilities.`);
  }
  return model;
}
