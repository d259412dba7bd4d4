import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, withSeed, type Random } from '@fitstream/core';

/** What a model module's builder function gets besides its own options. */
export interface ModelBuildContext {
  /** The shape of one sample (no batch axis): `[features]` for tables, `[height, width, channels]` for images. */
  readonly inputShape: readonly number[];
  /** Units the output layer needs: the number of classes (softmax) for a classifier, of targets for a regression. */
  readonly outputUnits: number;
  readonly task: 'classification' | 'regression';
  /** The run's seed (the initial weights are seeded already: layers built in the function draw from it). */
  readonly seed: number;
  /** The CLI's tfjs: build the model with it so that it lives on the engine that trains it. */
  readonly tf: typeof tf;
}

/** The function a model module exports (default, or named `buildModel`). */
export type BuildModel = (options: Record<string, unknown>, context: ModelBuildContext) => tf.LayersModel;

const TS = new Set(['.ts', '.mts', '.cts']);

async function importModule(file: string): Promise<Record<string, unknown>> {
  try {
    // TypeScript runs without a build step through tsx's ESM API; JavaScript through Node's own import().
    if (TS.has(extname(file))) {
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new FitstreamInputError('model', `${file} could not be imported: ${(error as Error).message.split('\n')[0]}`);
  }
}

function builderOf(file: string, mod: Record<string, unknown>): BuildModel {
  // A CommonJS module imported as ESM puts module.exports on `default`.
  const inner = typeof mod['default'] === 'object' && mod['default'] !== null ? (mod['default'] as Record<string, unknown>) : {};
  const fn = [mod['buildModel'], mod['default'], inner['buildModel'], inner['default']].find((f) => typeof f === 'function');
  if (!fn) {
    const names = Object.keys(mod).filter((k) => k !== '__esModule');
    throw new FitstreamInputError(
      'model',
      `${file} exports no model builder (found: ${names.length ? names.join(', ') : 'nothing'}); export a function \`export default function buildModel(config, { inputShape, outputUnits, task, seed, tf }) { return tf.sequential(...) }\` (or a named export buildModel).`,
    );
  }
  return fn as BuildModel;
}

/** Whether `value` is a tfjs layers model of another copy of tfjs (it quacks like one but is not this tfjs' class). */
function foreignModel(value: unknown): boolean {
  return typeof value === 'object' && value !== null && ['predict', 'getWeights', 'layers', 'inputs', 'outputs'].every((k) => k in value);
}

/**
 * The model a JS/TS module builds: its default export (or `buildModel`) called with the `model.with` options and the
 * data's shape, synchronously under the run's seed so that the initial weights are reproducible. Errors name the file
 * and the fix: no such function, an async function, a result that is not a `tf.LayersModel` (or is one of another
 * tfjs copy).
 */
export async function moduleModel(file: string, options: Record<string, unknown>, context: Omit<ModelBuildContext, 'tf'>, random: Random): Promise<tf.LayersModel> {
  const build = builderOf(file, await importModule(file));
  let result: unknown;
  try {
    result = withSeed(random, () => ({ value: build(options, { ...context, tf }) })).value;
  } catch (error) {
    throw new FitstreamInputError('model', `${file}: the model builder threw: ${(error as Error).message}`);
  }
  if (result instanceof Promise) {
    // Dispose what it may build later; its layers would be drawn outside the seeded scope.
    void result.then((m: unknown) => (m instanceof tf.LayersModel ? m.dispose() : undefined), () => undefined);
    throw new FitstreamInputError(
      'model',
      `${file}: the model builder returned a Promise; build and return the model synchronously (its initial weights are seeded only during the call). Load files at module level with top-level await instead.`,
    );
  }
  if (result instanceof tf.LayersModel) return result;
  if (foreignModel(result)) {
    throw new FitstreamInputError('model', `${file}: the builder returned a model of another copy of @tensorflow/tfjs; build it with the \`tf\` in its second argument (or import the @tensorflow/tfjs fitstream uses).`);
  }
  const got = result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result === 'object' ? `an object (${Object.keys(result as object).slice(0, 5).join(', ')})` : typeof result;
  throw new FitstreamInputError('model', `${file}: the builder returned ${got}, not a tf.LayersModel; return tf.sequential({...}) or tf.model({ inputs, outputs }).`);
}
