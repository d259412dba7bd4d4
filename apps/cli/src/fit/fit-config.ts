import { isAbsolute, resolve } from 'node:path';
import { LOSS_NAMES, METRIC_NAMES } from '@fitstream/core';
import { z } from 'zod';
import { BACKENDS, OPTIMIZERS, commonDefaults, cvSchema, fitSchema, lrFinderSchema, type RunConfig } from '../config/schema.js';
import { userDataSchema } from '../data/spec.js';
import { userModelSchema } from '../model/model-spec.js';
import { distributedSchema } from './distributed.js';
import { pluginEntrySchema, pluginProblems, runCallbacks, type PluginEntry } from './plugin-check.js';

const rate = () => z.number().gt(0).lt(1);

/**
 * The optimizer of a fit run: a name (`adam`), or a name with the options of its tfjs constructor
 * (`{ name: adam, with: { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } }`); the learning rate is `lr`.
 */
export const optimizerSchema = z.union([
  z.enum(OPTIMIZERS),
  z.strictObject({
    name: z.enum(OPTIMIZERS),
    /** The options of `tf.train.<name>` after the learning rate; which apply depends on `name` ({@link OPTIMIZER_OPTIONS}). */
    with: z
      .strictObject({
        beta1: rate(),
        beta2: rate(),
        epsilon: z.number().positive(),
        decay: z.number().min(0),
        momentum: z.number().min(0),
        useNesterov: z.boolean(),
        centered: z.boolean(),
        initialAccumulatorValue: z.number().positive(),
        rho: rate(),
      })
      .partial()
      .optional(),
  }),
]);

/** The options each optimizer takes (its tfjs constructor's, after the learning rate). */
export const OPTIMIZER_OPTIONS: Readonly<Record<(typeof OPTIMIZERS)[number], readonly string[]>> = {
  sgd: [],
  momentum: ['momentum', 'useNesterov'],
  adam: ['beta1', 'beta2', 'epsilon'],
  adamax: ['beta1', 'beta2', 'epsilon', 'decay'],
  rmsprop: ['decay', 'momentum', 'epsilon', 'centered'],
  adagrad: ['initialAccumulatorValue'],
  adadelta: ['rho', 'epsilon'],
};

export type OptimizerConfig = z.output<typeof optimizerSchema>;

/** The data section with its path recorded absolute (the run's config.json must resolve from any directory). */
const dataSchema = userDataSchema.transform((spec) => ({ ...spec, path: isAbsolute(spec.path) ? spec.path : resolve(spec.path) }));

/**
 * A `fitstream fit` configuration: the common top-level keys (seed, epochs, batchSize, lr, backend, out, fastDevRun),
 * the user's `model` and `data`, the optimizer (with options), loss and metrics (default from the task), the `fit`,
 * `cv` and `lrFinder` sections, and plugin lists resolved by name from the packages' exports: `callbacks`,
 * `regularisers`, `sampler`. Plugin options (`with:`) are validated against JSON Schema generated from the plugins'
 * option types, then by the plugins themselves; each problem names its place (`callbacks[0].with.patience`).
 *
 * @example
 * ```ts
 * const config = fitConfigSchema.parse({ ...fitDefaults(), model: 'model.json', data: { path: 'data.csv', columns: { target: 'label' } } });
 * ```
 */
export const fitConfigSchema = z
  .strictObject({
    recipe: z.literal('fit'),
    seed: z.int(),
    backend: z.enum(BACKENDS),
    epochs: z.int().min(1),
    batchSize: z.int().min(1),
    lr: z.number().positive(),
    optimizer: optimizerSchema,
    fastDevRun: z.union([z.boolean(), z.int().min(1)]),
    out: z.string().min(1),
    model: userModelSchema,
    data: dataSchema,
    /** Default: `sparseCategoricalCrossentropy` for classification, `meanSquaredError` for regression. */
    loss: z.enum(LOSS_NAMES).optional(),
    /** Default: `accuracy` for classification, `mae` for regression. */
    metrics: z.array(z.enum(METRIC_NAMES)).optional(),
    fit: fitSchema,
    cv: cvSchema,
    lrFinder: lrFinderSchema,
    callbacks: z.array(pluginEntrySchema),
    regularisers: z.array(pluginEntrySchema),
    sampler: pluginEntrySchema.nullable(),
    /** Data-parallel replicas launched by `fitstream fit` (`{ replicas: 2, backend: threads }`); null: one process. */
    distributed: distributedSchema.nullable(),
  })
  .superRefine((config, ctx) => {
    if (typeof config.optimizer === 'object') {
      const { name } = config.optimizer;
      const allowed = OPTIMIZER_OPTIONS[name];
      for (const key of Object.keys(config.optimizer.with ?? {}).filter((k) => !allowed.includes(k))) {
        const line = `optimizer.with.${key}: ${name} does not take ${key}; ${allowed.length ? `it takes ${allowed.join(', ')}` : 'it takes no options besides the learning rate (lr)'}.`;
        ctx.addIssue({ code: 'custom', message: line, path: ['optimizer', 'with', key], params: { line } });
      }
    }
    for (const line of pluginProblems(config)) ctx.addIssue({ code: 'custom', message: line, path: [line.split(/[.[:]/)[0]!], params: { line } });
  });

/** A validated fit configuration. */
export type FitConfig = z.output<typeof fitConfigSchema>;

/** The defaults of `fitstream fit` (a config file and flags go on top); `model` and `data.path` have none. */
export function fitDefaults(): Record<string, unknown> {
  const { callbacks: _c, ...common } = commonDefaults('fit', 'val_loss');
  return { ...common, epochs: 20, batchSize: 32, lr: 0.001, data: {}, callbacks: [], regularisers: [], sampler: null, distributed: null };
}

/** A fit configuration as the run machinery reads a recipe's (`RunConfig`): the optimizer's name, callback sections. */
export function runView(config: FitConfig): RunConfig {
  const lists = { callbacks: config.callbacks as PluginEntry[], regularisers: config.regularisers as PluginEntry[], sampler: config.sampler };
  return {
    ...config,
    optimizer: typeof config.optimizer === 'string' ? config.optimizer : config.optimizer.name,
    model: config.model as Record<string, unknown>,
    data: config.data as Record<string, unknown>,
    callbacks: runCallbacks(lists),
  };
}
