import * as tf from '@tensorflow/tfjs';
import { LearningRatePipeline } from '../learning-rate/learning-rate-pipeline.js';
import { FitstreamInputError } from '@fitstream/util';
import { adaptModel, type ModelAdapter, type TrainableModel } from '../model/model.js';
import { resolveOptimizer, type OptimizerSpec } from '@fitstream/optimizers';

/** The `optimizer` option: one optimizer, or several by name (a GAN's generator and discriminator). */
export type OptimizersOption = OptimizerSpec | { readonly [name: string]: OptimizerSpec };

/** One optimizer of the trainer, with its own learning-rate pipeline. */
export interface NamedOptimizer {
  readonly name: string;
  readonly optimizer: tf.Optimizer;
  /** Whether the trainer created it (and disposes it). */
  readonly owned: boolean;
  readonly lr: LearningRatePipeline;
}

/** The name of the only optimizer when the option gives one. */
export const DEFAULT_OPTIMIZER = 'default';
/** The name of the main model among `ctx.models`. */
export const MAIN_MODEL = 'model';

const SPEC_KEYS = new Set(['name', 'learningRate']);
const isOptimizerSpec = (v: unknown): v is OptimizerSpec =>
  typeof v === 'string' || v instanceof tf.Optimizer || (typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && Object.keys(v).every((k) => SPEC_KEYS.has(k)));

/** Resolves the optimizers in option order (the first is the main one, which the default step uses). */
export function resolveOptimizers(option: OptimizersOption): NamedOptimizer[] {
  const entries: [string, OptimizerSpec][] = isOptimizerSpec(option) ? [[DEFAULT_OPTIMIZER, option]] : Object.entries(option);
  if (entries.length === 0) throw new FitstreamInputError('optimizer', 'names no optimizer; give one (a name or a tf.train.* instance) or a map of them by name.');
  const seen = new Set<tf.Optimizer>();
  return entries.map(([name, spec]) => {
    if (!isOptimizerSpec(spec)) throw new FitstreamInputError(`optimizer.${name}`, `must be an optimizer name, { name, learningRate } or a tf.train.* instance, got ${String(spec)}.`);
    const { optimizer, owned } = resolveOptimizer(spec);
    if (seen.has(optimizer)) throw new FitstreamInputError(`optimizer.${name}`, 'is the same tf.train.* instance as another entry; each entry needs its own optimizer (its own slots).');
    seen.add(optimizer);
    return { name, optimizer, owned, lr: new LearningRatePipeline(optimizer) };
  });
}

/** The main model under `model`, and the other models by name. */
export function resolveModels(main: ModelAdapter, others: { readonly [name: string]: TrainableModel } | undefined): Map<string, ModelAdapter> {
  const models = new Map<string, ModelAdapter>([[MAIN_MODEL, main]]);
  for (const [name, model] of Object.entries(others ?? {})) {
    if (name === MAIN_MODEL) throw new FitstreamInputError(`models.${name}`, `"${MAIN_MODEL}" names the main model (the \`model\` option); give this one another name.`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new FitstreamInputError(`models.${name}`, 'model names are used as checkpoint folder names: use letters, digits, "_" and "-".');
    if (model === main.source) throw new FitstreamInputError(`models.${name}`, 'is the main model again; list only the other models.');
    models.set(name, adaptModel(model));
  }
  const owners = new Map<tf.Variable, string>();
  for (const [name, m] of models) {
    for (const v of m.namedWeights().values()) {
      const other = owners.get(v);
      if (other) throw new FitstreamInputError(`models.${name}`, `shares the weight "${v.name}" with model "${other}"; a weight must belong to one model (build shared parts once, e.g. a GAN's combined model is not needed).`);
      owners.set(v, name);
    }
  }
  return models;
}
