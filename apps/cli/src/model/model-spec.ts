import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The `model:` section of a `fitstream fit` configuration: where the user's model comes from, and the options handed to
 * a model module's builder function. A bare string is the path (`model: model.json`); `--model <path>` sets it. Paths
 * are relative to the working directory and recorded absolute in the run's `config.json`, so that `fitstream resume`
 * finds the model from anywhere.
 */
export const userModelSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      path: z.string().min(1),
      /** Options for a JS/TS module's builder function (its first argument); ignored by model files. */
      with: z.record(z.string(), z.unknown()).optional(),
    }),
  ])
  .transform((spec) => {
    const { path, with: options } = typeof spec === 'string' ? { path: spec, with: undefined } : spec;
    return { path: isAbsolute(path) ? path : resolve(path), ...(options === undefined ? {} : { with: options }) };
  });

/** A resolved `model:` section. */
export type UserModelSpec = z.infer<typeof userModelSchema>;

/** The kinds of model files `fitstream fit --model` takes, by extension. */
export const MODEL_EXTENSIONS = {
  json: ['.json'],
  keras: ['.keras'],
  module: ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'],
} as const;

/** What `--model` takes, for error messages. */
export const MODEL_KINDS =
  'a tfjs layers model.json (with or without weights), a Keras 3 .keras archive or config.json, or a JS/TS module exporting buildModel(config, { inputShape, outputUnits, task, seed, tf })';
