import * as tf from '@tensorflow/tfjs';
import type {
  Batch,
  BatchTransform,
  Gradients,
  GradientTransform,
  LearningRateMultiplier,
  LossTransform,
  StepContext,
  WeightConstraint,
} from '../plugin/plugin-points.js';
import { applyOptimizerUpdate } from '@fitstream/optimizers';
import { withSeed } from '@fitstream/util';
import { tensorsIn } from './data.js';
import { metricValues, predictionList, sampleWeightList, targetList, totalLoss, type Heads, type HeadTerms } from './heads.js';
import type { ModelAdapter } from '../model/model.js';

/** The plugin points of one fit, resolved once at start and ordered. */
export interface StepPlugins {
  readonly batchTransforms: readonly BatchTransform[];
  readonly lossTransforms: readonly LossTransform[];
  readonly gradientTransforms: readonly GradientTransform[];
  readonly weightConstraints: readonly WeightConstraint[];
  readonly learningRateMultipliers: readonly LearningRateMultiplier[];
}

const STAGE_ORDER = { 'pre-reduce': 0, reduce: 1, 'post-reduce': 2 } as const;

/** Orders gradient transforms by stage (stable within a stage); the plugin-point registry refuses two reducers. */
export function orderGradientTransforms(transforms: readonly GradientTransform[]): GradientTransform[] {
  return transforms
    .map((t, i) => ({ t, i }))
    .sort((a, b) => STAGE_ORDER[a.t.stage ?? 'post-reduce'] - STAGE_ORDER[b.t.stage ?? 'post-reduce'] || a.i - b.i)
    .map(({ t }) => t);
}

/** The context a hook sees: its own random stream, so hooks never consume each other's draws. */
function own<C extends StepContext>(ctx: C, hook: string): C {
  return { ...ctx, random: ctx.random.derive(hook) };
}

/** Result of one batch's forward and backward pass; the caller owns every tensor. */
export interface BatchResult {
  readonly grads: tf.NamedTensorMap;
  /** `[loss, ...metrics]`, batch means. */
  readonly metrics: tf.Tensor1D;
}

/** Runs one batch forward and backward: every output's loss (weighted), loss transforms, gradients, batch metrics. */
export function forwardBackward(
  batch: Batch,
  ctx: StepContext,
  parts: { model: ModelAdapter; variables: readonly tf.Variable[]; heads: Heads; plugins: StepPlugins },
): BatchResult {
  const { model, variables, heads, plugins } = parts;
  let terms: HeadTerms[] = [];
  const original = new Set(tensorsIn(batch.y));
  // Unseeded tfjs randomness (dropout, noise layers) draws from Math.random: scope it to a stream of (seed, epoch, batch)
  // so that a run, and a resumed run, draw the same masks.
  const { value, grads } = withSeed(ctx.random.derive('tfjs-ops'), () =>
    tf.variableGrads(() => {
      let b = batch;
      for (const t of plugins.batchTransforms) b = t.transform(b, own(ctx, t.name));
      const preds = predictionList(model.forward(b.x, true), heads);
      const ys = targetList(heads, b.y, 'data.y');
      const weights = sampleWeightList(heads, b.sampleWeight, 'data.sampleWeight');
      const outputs = heads.heads.map((h) => h.name);
      const scored = heads.heads.map((h, i) => {
        let perSample = h.loss.fn(ys[i]!, preds[i]!);
        if (weights[i]) perSample = tf.mul(perSample, weights[i]!);
        const lossCtx = { ...ctx, batchData: b, output: heads.multi ? h.name : undefined, outputs, yTrue: ys[i]!, yPred: preds[i]!, sampleWeight: weights[i], variables };
        for (const t of plugins.lossTransforms) if (t.perSample) perSample = t.perSample(perSample, own(lossCtx, t.name));
        return { perSample, yTrue: ys[i]!, yPred: preds[i]! };
      });
      let total = totalLoss(heads, scored);
      const totalCtx = { ...ctx, batchData: b, output: undefined, outputs, yTrue: ys[0]!, yPred: preds[0]!, sampleWeight: weights[0], variables };
      for (const t of plugins.lossTransforms) if (t.total) total = t.total(total, own(totalCtx, t.name));
      // Kept for the metrics, computed off the tape below.
      terms = scored.map((t) => ({ perSample: tf.keep(t.perSample), yTrue: original.has(t.yTrue) ? t.yTrue : tf.keep(t.yTrue), yPred: tf.keep(t.yPred) }));
      return total;
    }, variables as tf.Variable[]),
  );
  const metrics = metricValues(heads, value, terms);
  tf.dispose([value, ...terms.flatMap((t) => [t.perSample, t.yPred, ...(original.has(t.yTrue) ? [] : [t.yTrue])])]);
  return { grads, metrics };
}

/** Applies one optimizer update with the step's gradients; returns `false` when a transform skipped it. */
export function applyUpdate(
  grads: tf.NamedTensorMap,
  ctx: StepContext,
  parts: { optimizer: tf.Optimizer; variables: readonly tf.Variable[]; plugins: StepPlugins; metrics: tf.Tensor1D; samples: number },
): boolean {
  return tf.tidy(() => {
    let g: Gradients | null = grads;
    if (parts.plugins.gradientTransforms.length > 0) {
      const gradientCtx = { ...ctx, loss: parts.metrics.slice(0, 1).reshape([]) as tf.Scalar, samples: parts.samples, variables: parts.variables };
      const transforms = parts.plugins.gradientTransforms;
      for (let i = 0; i < transforms.length; i++) {
        const t = transforms[i]!;
        g = t.transform(g, own(gradientCtx, t.name));
        if (g === null) {
          // The later transforms learn of the skip (a reducer still joins its collective, so peers skip with it).
          for (const later of transforms.slice(i + 1)) later.skipped?.(own(gradientCtx, later.name));
          return false;
        }
      }
    }
    // tfjs optimizers index their slots by the position of a variable in the gradients: give them in the trained
    // variables' order, whatever order the transforms returned (an all-reduce lays gradients out sorted by name), so
    // that slots, checkpoints and the realignment at freeze changes all agree.
    g = inVariableOrder(g, parts.variables);
    const multipliers = parts.plugins.learningRateMultipliers;
    if (multipliers.length === 0) applyOptimizerUpdate(parts.optimizer, g);
    else {
      const byName = new Map(parts.variables.map((v) => [v.name, v]));
      const contexts = multipliers.map((m) => own(ctx, m.name));
      const scale = (name: string) => {
        const variable = byName.get(name);
        return variable ? multipliers.reduce((f, m, i) => f * m.multiplier(variable, contexts[i]!), 1) : 1;
      };
      applyOptimizerUpdate(parts.optimizer, g, scale);
    }
    for (const c of parts.plugins.weightConstraints) c.apply(parts.variables, own(ctx, c.name));
    return true;
  });
}

/** The gradients keyed in the order of `variables` (those without a gradient left out). */
export function inVariableOrder(grads: Gradients, variables: readonly tf.Variable[]): Gradients {
  const keys = Object.keys(grads);
  if (keys.length === variables.length && keys.every((k, i) => k === variables[i]!.name)) return grads;
  const ordered: Record<string, tf.Tensor> = {};
  for (const v of variables) if (grads[v.name]) ordered[v.name] = grads[v.name]!;
  for (const k of keys) if (!(k in ordered)) ordered[k] = grads[k]!;
  return ordered;
}

/**
 * Sums sample-count-weighted gradients across the batches of one step, so that accumulating batches of b equals one
 * batch of k·b exactly in expectation of the mean loss: Σ nᵢ·gᵢ / Σ nᵢ.
 */
export class GradientAccumulator {
  private sums: tf.NamedTensorMap | undefined;
  samples = 0;
  batches = 0;

  add(grads: tf.NamedTensorMap, samples: number): void {
    const previous = this.sums;
    this.sums = tf.tidy(() => {
      const next: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(grads)) {
        const weighted = g.mul(samples);
        next[name] = previous?.[name] ? previous[name].add(weighted) : weighted;
      }
      return next;
    });
    if (previous) tf.dispose(Object.values(previous));
    this.samples += samples;
    this.batches += 1;
  }

  /** The mean gradients (caller disposes) and a reset. */
  take(): tf.NamedTensorMap {
    const sums = this.sums ?? {};
    const samples = this.samples;
    const means = tf.tidy(() => {
      const out: tf.NamedTensorMap = {};
      for (const [name, s] of Object.entries(sums)) out[name] = s.div(samples);
      return out;
    });
    tf.dispose(Object.values(sums));
    this.sums = undefined;
    this.samples = 0;
    this.batches = 0;
    return means;
  }

  dispose(): void {
    if (this.sums) tf.dispose(Object.values(this.sums));
    this.sums = undefined;
    this.samples = 0;
    this.batches = 0;
  }
}
