import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, GradientTransform, provide, type Gradients, type Plugin } from '@fitstream/core';
import { assertNumber, positive } from '../assert.js';
import type { ClipMode } from '../report/events.js';
import { DeviceAccumulator, reportAccumulated, resolveReport, type ReportSetting } from '../report/reporter.js';

/**
 * What to do when the gradients are not finite (their pre-clip global norm is NaN or ±Infinity): `'propagate'`
 * (default, PyTorch `error_if_nonfinite=False`: no device read, the update goes ahead), `'skip'` the update (emits
 * `regulariser:skipped`; `step:end` carries `skipped: true`), or `'throw'` (the fit fails). `'skip'` and `'throw'`
 * read the norm back every step: one scalar sync (free on cpu/wasm, a pipeline stall on GPU).
 */
export type NonFinitePolicy = 'propagate' | 'skip' | 'throw';

/** Options shared by the clipping plugins. */
export interface ClipOptions {
  readonly nonFinite?: NonFinitePolicy;
  /** Plugin name, unique per trainer. */
  readonly name?: string;
  /** `regulariser:report` (kind `'clip'`); default every step, read lazily. */
  readonly report?: ReportSetting;
}

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions extends ClipOptions {
  /** The p of the p-norm (default 2); `Infinity` for the max-norm. */
  readonly normType?: number;
}

/** The p-norm of every gradient taken together, as one vector (PyTorch `clip_grad_norm_`'s `total_norm`). */
export function globalNorm(grads: Gradients | readonly tf.Tensor[], normType = 2): tf.Scalar {
  const tensors = Array.isArray(grads) ? (grads as readonly tf.Tensor[]) : Object.values(grads as Gradients);
  return tf.tidy(() => {
    if (tensors.length === 0) return tf.scalar(0);
    if (normType === Number.POSITIVE_INFINITY) return tf.max(tf.stack(tensors.map((g) => tf.max(tf.abs(g)))));
    if (normType === 2) return tf.sqrt(tf.addN(tensors.map((g) => tf.sum(tf.square(g)))));
    if (normType === 1) return tf.addN(tensors.map((g) => tf.sum(tf.abs(g))));
    return tf.pow(tf.addN(tensors.map((g) => tf.sum(tf.pow(tf.abs(g), normType)))), 1 / normType);
  });
}

function mapGrads(grads: Gradients, fn: (g: tf.Tensor, name: string) => tf.Tensor): Gradients {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads)) out[name] = fn(g, name);
  return out;
}

/**
 * PyTorch `clip_grad_norm_`: scales every gradient by `min(1, maxNorm / (total + 1e-6))`, where `total` is the global
 * p-norm; returns the clipped gradients, the pre-clip norm and the coefficient. Direction is kept; gradients whose
 * norm is below `maxNorm` are returned unchanged (same tensors).
 *
 * @example
 * ```ts
 * const { grads: clipped, norm } = clipByGlobalNorm({ w: tf.tensor1d([3, 4]) }, 1); // norm 5, clipped w ≈ [0.6, 0.8]
 * ```
 */
export function clipByGlobalNorm(grads: Gradients, maxNorm: number, normType = 2): { grads: Gradients; norm: tf.Scalar; coefficient: tf.Scalar } {
  const norm = globalNorm(grads, normType);
  const coefficient = tf.tidy(() => tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1) as tf.Scalar);
  return { grads: mapGrads(grads, (g) => tf.mul(g, coefficient)), norm, coefficient };
}

/** Keras `clipnorm` / `tf.clip_by_norm` per variable: each gradient whose L2 norm exceeds `maxNorm` is rescaled to it. */
export function clipByNormPerVariable(grads: Gradients, maxNorm: number): Gradients {
  return mapGrads(grads, (g) => tf.tidy(() => tf.div(tf.mul(g, maxNorm), tf.maximum(tf.norm(g), maxNorm))));
}

/** Keras `clipvalue` / PyTorch `clip_grad_value_`: every element clipped to `[-clipValue, clipValue]`. */
export function clipByValue(grads: Gradients, clipValue: number): Gradients {
  return mapGrads(grads, (g) => tf.clipByValue(g, -clipValue, clipValue));
}

function nonFinitePolicy(value: unknown, name: string): NonFinitePolicy {
  const policy = value ?? 'propagate';
  if (policy !== 'propagate' && policy !== 'skip' && policy !== 'throw') {
    throw new FitstreamInputError(`${name}: nonFinite`, `must be 'propagate', 'skip' or 'throw', got ${String(value)}.`);
  }
  return policy;
}

interface Clipper {
  readonly mode: ClipMode;
  readonly threshold: number;
  readonly defaultName: string;
  readonly normType: number;
  /** Clipped gradients, whether anything was clipped (a boolean scalar) and, when known, post/pre global norm. */
  clip(grads: Gradients, norm: tf.Scalar): { grads: Gradients; clipped: tf.Tensor; ratio?: tf.Tensor };
}

function clipPlugin(clipper: Clipper, options: ClipOptions): Plugin {
  const name = options.name ?? clipper.defaultName;
  const report = resolveReport(options.report, `${name}: report`);
  const nonFinite = nonFinitePolicy(options.nonFinite, name);
  const accumulator = new DeviceAccumulator(['norm', 'ratio', 'maxNorm', 'clippedSteps'] as const, ['last', 'last', 'max', 'sum']);
  let skipped: { step: number; batch: number; norm: number } | undefined;
  // Looks like gradientNoise's in noise.ts (every plugin is { name, register: provide(…), attach }); stays apart: this clips, that adds noise.
  return {
    name,
    register: (c) =>
      provide(c, GradientTransform, {
        name,
        stage: 'post-reduce',
        transform: (grads, ctx) => {
          const norm = globalNorm(grads, clipper.normType);
          if (nonFinite !== 'propagate') {
            const value = norm.dataSync()[0]!;
            if (!Number.isFinite(value)) {
              if (nonFinite === 'throw') {
                throw new Error(`${name}: the gradients are not finite (global norm ${value}) at epoch ${ctx.epoch}, step ${ctx.step + 1}; lower the learning rate, check the data, or use nonFinite: 'skip'.`);
              }
              skipped = { step: ctx.step + 1, batch: ctx.batch, norm: value };
              return null;
            }
          }
          const { grads: out, clipped, ratio: ratioOf } = clipper.clip(grads, norm);
          if (report.every > 0) {
            const ratio = ratioOf ?? tf.where(tf.greater(norm, 0), tf.div(globalNorm(out, clipper.normType), norm), tf.onesLike(norm));
            accumulator.record([norm, ratio, norm, tf.cast(clipped, 'float32')]);
          }
          return out;
        },
      }),
    attach: (events$, control) => {
      skipped = undefined;
      return reportAccumulated(events$, control, accumulator, {
        name,
        report,
        onStep: (e) => {
          if (skipped && e.skipped && skipped.step === e.step) {
            control.emit('regulariser:skipped', { name, epoch: e.epoch, step: e.step, batch: skipped.batch, reason: 'non-finite-gradients', norm: skipped.norm });
          }
          skipped = undefined;
        },
        body: (values) => ({ kind: 'clip', mode: clipper.mode, threshold: clipper.threshold, values }),
      });
    },
  };
}

/**
 * Clips the step's gradients by their global norm, PyTorch `clip_grad_norm_` semantics: after accumulation and after
 * the cross-replica reduction (stage `post-reduce`), every gradient is scaled by `min(1, maxNorm / (total + 1e-6))`.
 * Reports the pre-clip norm (`regulariser:report`, kind `'clip'`), lazily.
 *
 * @example
 * ```ts
 * trainer.use(clipGradNorm(1.0));
 * trainer.use(clipGradNorm(1.0, { nonFinite: 'skip', report: { every: 50 } }));
 * ```
 */
export function clipGradNorm(maxNorm: number, options: ClipGradNormOptions = {}): Plugin {
  positive(maxNorm, 'clipGradNorm: maxNorm');
  const normType = options.normType ?? 2;
  if (normType !== Number.POSITIVE_INFINITY) assertNumber(normType, 'clipGradNorm: normType', (v) => v >= 1, 'a number ≥ 1 or Infinity');
  return clipPlugin(
    {
      mode: 'global-norm',
      threshold: maxNorm,
      defaultName: 'clip-grad-norm',
      normType,
      clip: (grads, norm) => {
        const coefficient = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
        return { grads: mapGrads(grads, (g) => tf.mul(g, coefficient)), clipped: tf.less(coefficient, 1), ratio: coefficient };
      },
    },
    options,
  );
}

// Each clipping plugin is one `Clipper` for clipPlugin (the shared piece): the declarations below are alike by design.
/**
 * Clips each gradient by its own L2 norm (Keras optimizer `clipnorm`): `g · maxNorm / max(‖g‖, maxNorm)`. Runs in
 * stage `post-reduce`. The report's `norm` is the pre-clip global norm.
 *
 * @example
 * ```ts
 * trainer.use(clipGradNormPerVariable(0.5));
 * ```
 */
export function clipGradNormPerVariable(maxNorm: number, options: ClipOptions = {}): Plugin {
  positive(maxNorm, 'clipGradNormPerVariable: maxNorm');
  return clipPlugin(
    {
      mode: 'per-variable-norm',
      threshold: maxNorm,
      defaultName: 'clip-grad-norm-per-variable',
      normType: 2,
      clip: (grads) => {
        const norms = Object.values(grads).map((g) => tf.norm(g));
        const clipped = norms.length ? tf.greater(tf.max(tf.stack(norms)), maxNorm) : tf.scalar(false, 'bool');
        return { grads: clipByNormPerVariable(grads, maxNorm), clipped };
      },
    },
    options,
  );
}

/**
 * Clips every gradient element to `[-clipValue, clipValue]` (Keras `clipvalue`, PyTorch `clip_grad_value_`); this
 * changes the direction. Runs in stage `post-reduce`.
 *
 * @example
 * ```ts
 * trainer.use(clipGradValue(0.1));
 * ```
 */
export function clipGradValue(clipValue: number, options: ClipOptions = {}): Plugin {
  positive(clipValue, 'clipGradValue: clipValue');
  return clipPlugin(
    {
      mode: 'value',
      threshold: clipValue,
      defaultName: 'clip-grad-value',
      normType: 2,
      clip: (grads) => {
        const maxAbs = globalNorm(grads, Number.POSITIVE_INFINITY);
        return { grads: clipByValue(grads, clipValue), clipped: tf.greater(maxAbs, clipValue) };
      },
    },
    options,
  );
}

/** Options of {@link skipNonFiniteGradients}. */
export interface SkipNonFiniteOptions {
  /** `'skip'` the update (default) or `'throw'`. */
  readonly action?: 'skip' | 'throw';
  readonly name?: string;
}

/**
 * Guards the optimizer against non-finite gradients without clipping: skips the update (emits `regulariser:skipped`)
 * or fails the fit. Costs one scalar read per step.
 *
 * @example
 * ```ts
 * trainer.use(skipNonFiniteGradients()); // NaN/Inf gradients never reach the weights
 * ```
 */
export function skipNonFiniteGradients(options: SkipNonFiniteOptions = {}): Plugin {
  const action = options.action ?? 'skip';
  if (action !== 'skip' && action !== 'throw') throw new FitstreamInputError('skipNonFiniteGradients: action', `must be 'skip' or 'throw', got ${String(action)}.`);
  return clipPlugin(
    { mode: 'global-norm', threshold: Number.POSITIVE_INFINITY, defaultName: 'skip-non-finite-gradients', normType: 2, clip: (grads) => ({ grads, clipped: tf.scalar(false, 'bool') }) },
    { nonFinite: action, name: options.name ?? 'skip-non-finite-gradients', report: false },
  );
}
