import * as tf from '@tensorflow/tfjs';
import { applyOptimizerUpdate } from '@fitstream/optimizers';
import type { Batch, GradientTransform, LearningRateMultiplier, StepContext, WeightConstraint } from '../plugin/plugin-points.js';
import { FitstreamInputError, withSeed } from '@fitstream/util';
import { inVariableOrder } from './step-pipeline.js';
import type { ModelAdapter, TrainableModel } from '../model/model.js';

/** The values a train step reports: `loss` (what early stopping and plateau watch by default) and its metrics. */
export type StepValues<N extends string = string> = Readonly<Record<'loss' | N, tf.Scalar>>;

/** What a custom step is given besides the batch. */
export interface TrainStepContext extends StepContext {
  /** The trainer's main model (`createTrainer({ model })`). */
  readonly model: TrainableModel;
  /** Every model by name: `model` (the main one) and those of `createTrainer({ models })`. */
  readonly models: Readonly<Record<string, TrainableModel>>;
  /** Every optimizer by name (`createTrainer({ optimizer: { generator: 'adam', … } })`; one unnamed optimizer is `default`). */
  readonly optimizers: Readonly<Record<string, tf.Optimizer>>;
  /**
   * One update: the gradients of `loss()` with respect to `variables` (a model's name — its trainable variables —, or
   * variables; default: the optimizer's own model when optimizers are named after models, else the main model), through
   * the trainer's gradient transforms (clipping, noise) and learning-rate multipliers, applied with the optimizer named
   * `optimizer` at its own learning rate, then the weight constraints. Returns the loss value.
   */
  minimize(optimizer: string, loss: () => tf.Scalar, variables?: string | readonly tf.Variable[]): tf.Scalar;
}

/** What an evaluation step is given: the models, in inference mode (call them with `training: false`). */
export interface EvaluateStepContext extends StepContext {
  readonly model: TrainableModel;
  readonly models: Readonly<Record<string, TrainableModel>>;
}

/**
 * The trainer option `trainStep`: replaces the default step (forward, loss, gradients,
 * one optimizer) with the user's — a GAN's two updates, a VAE's KL term, a contrastive loss, a gradient penalty —
 * while the loop stays the trainer's: events, progress, checkpoints of every model and optimizer, exact resume, seeds,
 * callbacks. `run` is called once per step inside `tf.tidy`; unseeded tfjs randomness in it draws from the step's
 * seeded stream. Data-parallel gradient averaging (`dataParallel`) cannot reach inside it: use `localSGD`.
 *
 * @example
 * ```ts
 * const trainer = createTrainer({
 *   model: generator,
 *   models: { discriminator },
 *   optimizer: { generator: { name: 'adam', learningRate: 2e-4 }, discriminator: { name: 'adam', learningRate: 2e-4 } },
 *   trainStep: {
 *     name: 'gan',
 *     metrics: ['d_loss', 'g_loss'],
 *     run: ({ x }, ctx) => {
 *       const d_loss = ctx.minimize('discriminator', () => discriminatorLoss(x as tf.Tensor));
 *       const g_loss = ctx.minimize('generator', () => generatorLoss((x as tf.Tensor).shape[0]!));
 *       return { loss: tf.add(d_loss, g_loss), d_loss, g_loss };
 *     },
 *   },
 * });
 * ```
 */
export interface TrainStep<N extends string = string> {
  readonly name: string;
  /** Names of the values `run` returns besides `loss`, logged as epoch means (and `val_…` from `evaluate`). */
  readonly metrics: readonly N[];
  run(batch: Batch, ctx: TrainStepContext): StepValues<N>;
  /** The same values in inference mode, without updates, for validation and `trainer.evaluate`; without it, validation is refused. */
  evaluate?(batch: Batch, ctx: EvaluateStepContext): StepValues<N>;
}

/** Checks a step's declaration; the names become the trainer's metric names. */
export function assertTrainStep(step: TrainStep): void {
  if (!step || typeof step.run !== 'function' || typeof step.name !== 'string') {
    throw new FitstreamInputError('trainStep', 'must be { name, metrics: string[], run(batch, ctx), evaluate?(batch, ctx) }.');
  }
  if (!Array.isArray(step.metrics) || step.metrics.some((m) => typeof m !== 'string' || m === '' || m === 'loss' || m.startsWith('val_'))) {
    throw new FitstreamInputError('trainStep.metrics', `must list the names run() returns besides "loss" (not "loss" itself, none starting with "val_"), got ${JSON.stringify(step.metrics)}.`);
  }
  if (new Set(step.metrics).size !== step.metrics.length) throw new FitstreamInputError('trainStep.metrics', `lists a name twice: ${JSON.stringify(step.metrics)}.`);
}

/** What a step runs with: the trainer's models and optimizers, and the update plugins. */
export interface StepParts {
  readonly models: ReadonlyMap<string, ModelAdapter>;
  readonly optimizers: ReadonlyMap<string, tf.Optimizer>;
  readonly gradientTransforms: readonly GradientTransform[];
  readonly learningRateMultipliers: readonly LearningRateMultiplier[];
  readonly weightConstraints: readonly WeightConstraint[];
}

/** Stacks a step's values in the trainer's metric order, checking that every declared one is there and scalar. */
function stackValues(values: StepValues, names: readonly string[], who: string): tf.Tensor1D {
  if (values === null || typeof values !== 'object') throw new FitstreamInputError(who, `returned ${String(values)}; return { loss, ${names.slice(1).join(', ')} } as scalars.`);
  return tf.stack(
    names.map((name) => {
      const v = (values as Record<string, tf.Scalar | undefined>)[name];
      if (!(v instanceof tf.Tensor) || v.size !== 1) throw new FitstreamInputError(who, `returned no scalar "${name}"; return { ${names.join(', ')} } as scalar tensors.`);
      return v.reshape([]);
    }),
  ) as tf.Tensor1D;
}

function contextModels(parts: Pick<StepParts, 'models'>): Record<string, TrainableModel> {
  return Object.fromEntries([...parts.models].map(([name, m]) => [name, m.source]));
}

/** Runs a custom step: its updates happen inside; returns `[loss, …metrics]` as one tensor (the caller disposes it). */
export function runTrainStep(step: TrainStep, batch: Batch, ctx: StepContext, parts: StepParts, names: readonly string[]): tf.Tensor1D {
  const models = contextModels(parts);
  const optimizers = Object.fromEntries(parts.optimizers);
  const minimize = (name: string, loss: () => tf.Scalar, variables?: string | readonly tf.Variable[]): tf.Scalar => {
    const optimizer = parts.optimizers.get(name);
    if (!optimizer) throw new FitstreamInputError('ctx.minimize', `no optimizer "${name}"; the trainer has ${[...parts.optimizers.keys()].map((k) => `"${k}"`).join(', ')}.`);
    const vars = variablesFor(name, variables, parts);
    const { value, grads } = tf.variableGrads(loss, vars as tf.Variable[]);
    applyGradients(grads, vars, optimizer, { ...ctx, loss: value, samples: 0 }, parts);
    tf.dispose(Object.values(grads));
    return value;
  };
  return withSeed(ctx.random.derive('tfjs-ops'), () =>
    tf.tidy(() => stackValues(step.run(batch, { ...ctx, model: models['model']!, models, optimizers, minimize }), names, `trainStep "${step.name}".run`)),
  );
}

/** Runs a custom step's evaluation: `[loss, …metrics]` (the caller disposes it). */
export function runEvaluateStep(step: TrainStep, batch: Batch, ctx: StepContext, parts: Pick<StepParts, 'models'>, names: readonly string[]): tf.Tensor1D {
  if (!step.evaluate) throw new FitstreamInputError('trainStep.evaluate', `trainStep "${step.name}" has no evaluate(batch, ctx); add one to validate or evaluate, or drop the validation data.`);
  const models = contextModels(parts);
  return tf.tidy(() => stackValues(step.evaluate!(batch, { ...ctx, model: models['model']!, models }), names, `trainStep "${step.name}".evaluate`));
}

/** The variables one optimizer trains: given, a model by name, the model named like the optimizer, or the main model. */
function variablesFor(optimizer: string, variables: string | readonly tf.Variable[] | undefined, parts: StepParts): readonly tf.Variable[] {
  if (Array.isArray(variables)) return variables as readonly tf.Variable[];
  const modelName = typeof variables === 'string' ? variables : parts.models.has(optimizer) ? optimizer : 'model';
  const model = parts.models.get(modelName);
  if (!model) throw new FitstreamInputError('ctx.minimize', `no model "${modelName}"; the trainer has ${[...parts.models.keys()].map((k) => `"${k}"`).join(', ')}.`);
  return model.trainableVariables();
}

/** Gradient transforms (post-reduce), per-variable learning-rate factors, the optimizer, weight constraints. */
function applyGradients(grads: tf.NamedTensorMap, variables: readonly tf.Variable[], optimizer: tf.Optimizer, ctx: StepContext & { loss: tf.Scalar; samples: number }, parts: StepParts): void {
  let g: tf.NamedTensorMap | null = grads;
  for (const t of parts.gradientTransforms) {
    g = t.transform(g, { ...ctx, variables, random: ctx.random.derive(t.name) }) as tf.NamedTensorMap | null;
    if (g === null) return; // a skipped update (non-finite gradients, a spike): the step still counts
  }
  g = inVariableOrder(g, variables) as tf.NamedTensorMap; // slots are indexed by position: keep the variables' order
  const multipliers = parts.learningRateMultipliers;
  const byName = new Map(variables.map((v) => [v.name, v]));
  const scale = multipliers.length === 0 ? undefined : (name: string) => {
    const v = byName.get(name);
    return v ? multipliers.reduce((f, m) => f * m.multiplier(v, { ...ctx, random: ctx.random.derive(m.name) }), 1) : 1;
  };
  applyOptimizerUpdate(optimizer, g, scale);
  for (const c of parts.weightConstraints) c.apply(variables, { ...ctx, random: ctx.random.derive(c.name) });
}
