import * as tf from '@tensorflow/tfjs';
import { GradientTransform, provide, type Plugin, type Random } from '@fitstream/core';
import { nonNegative, requireOptions } from '../assert.js';
import { hostValues, reportOnSteps, resolveReport, type ReportSetting } from '../report/reporter.js';
import { inputTransformPlugin } from './input-transform-plugin.js';

/** A tfjs op seed drawn from a fitstream stream (tfjs seeds its own generator from it: reproducible, on the device). */
export function opSeed(random: Random): number {
  return random.nextUint32();
}

/** Options of {@link gaussianNoise}. */
export interface GaussianNoiseOptions {
  /** Standard deviation of the additive noise N(0, σ²). */
  readonly stddev: number;
  /** For multi-input models: the input indices to perturb (default: every float input). */
  readonly inputs?: readonly number[];
  readonly name?: string;
  /** `regulariser:report` (kind `'input-noise'`, host values); default every step. */
  readonly report?: ReportSetting;
}

// The preamble of every regulariser factory (options object, range check, name, report), alike by design; the plugin follows.
/**
 * Additive Gaussian input noise (Keras `GaussianNoise(stddev)`), applied to training batches only — never to
 * validation or evaluation. Seeded from the trainer's stream of `(seed, epoch, batch)`, so a run (and a resumed run)
 * draws the same noise.
 *
 * @example
 * ```ts
 * trainer.use(gaussianNoise({ stddev: 0.1 }));
 * ```
 */
export function gaussianNoise(options: GaussianNoiseOptions): Plugin {
  requireOptions(options, 'gaussianNoise', '{ stddev: 0.1 }');
  const stddev = nonNegative(options.stddev, 'gaussianNoise: stddev');
  const name = options.name ?? 'gaussian-noise';
  const report = resolveReport(options.report, `${name}: report`);
  const only = options.inputs ? new Set(options.inputs) : undefined;
  const noisy = (x: tf.Tensor, random: Random) => (x.dtype === 'float32' && stddev > 0 ? tf.add(x, tf.randomNormal(x.shape, 0, stddev, 'float32', opSeed(random))) : x);
  return inputTransformPlugin({ name, inputs: only, perturb: noisy, report, body: () => ({ kind: 'input-noise', values: hostValues({ stddev }) }) });
}

/** Options of {@link gradientNoise}. */
export interface GradientNoiseOptions {
  /** η in σ² = η / (1 + t)^γ (Neelakantan et al. try 0.01, 0.3 and 1.0). Default 0.01. */
  readonly eta?: number;
  /** γ, the annealing exponent (default 0.55, as the paper). */
  readonly gamma?: number;
  readonly name?: string;
  /** `regulariser:report` (kind `'gradient-noise'`, host values); default every step. */
  readonly report?: ReportSetting;
}

/**
 * The standard deviation of annealed gradient noise at step `t` (optimizer steps completed): `sqrt(η / (1 + t)^γ)`.
 *
 * @example
 * ```ts
 * gradientNoiseStddev(0, { eta: 0.3 }); // √0.3
 * ```
 */
export function gradientNoiseStddev(t: number, options: { readonly eta?: number; readonly gamma?: number } = {}): number {
  const eta = options.eta ?? 0.01;
  const gamma = options.gamma ?? 0.55;
  return Math.sqrt(eta / Math.pow(1 + t, gamma));
}

// Registers a GradientTransform as every gradient plugin does (core's shape, alike in clipping.ts); the noise is its own.
/**
 * Annealed Gaussian gradient noise (Neelakantan et al. 2015, "Adding Gradient Noise Improves Learning for Very Deep
 * Networks"): adds N(0, σ²) with σ² = η / (1 + t)^γ to every gradient, t = the optimizer step (0-based). Training
 * only; seeded from `(seed, epoch, batch)`. Runs in stage `post-reduce` in the order plugins were added (add it after a
 * clipper to add noise to clipped gradients, as the paper does).
 *
 * @example
 * ```ts
 * trainer.use(clipGradNorm(1)).use(gradientNoise({ eta: 0.01 }));
 * ```
 */
export function gradientNoise(options: GradientNoiseOptions = {}): Plugin {
  const eta = nonNegative(options.eta ?? 0.01, 'gradientNoise: eta');
  const gamma = nonNegative(options.gamma ?? 0.55, 'gradientNoise: gamma');
  const name = options.name ?? 'gradient-noise';
  const report = resolveReport(options.report, `${name}: report`);
  let last: number | undefined;
  // Looks like clipPlugin's in clipping.ts (every plugin is { name, register: provide(…), attach }); stays apart: this adds noise, that clips.
  return {
    name,
    register: (c) =>
      provide(c, GradientTransform, {
        name,
        stage: 'post-reduce',
        transform: (grads, ctx) => {
          if (!ctx.training) return grads;
          const stddev = gradientNoiseStddev(ctx.step, { eta, gamma });
          last = stddev;
          if (stddev === 0) return grads;
          const random = ctx.random.derive(`@fitstream/regularisers/${name}`);
          const out: Record<string, tf.Tensor> = {};
          for (const [key, g] of Object.entries(grads)) out[key] = tf.add(g, tf.randomNormal(g.shape, 0, stddev, 'float32', opSeed(random)));
          return out;
        },
      }),
    attach: (events$, control) => {
      last = undefined;
      return reportOnSteps(events$, control, { name, report, body: () => (last === undefined ? undefined : { kind: 'gradient-noise', values: hostValues({ stddev: last }) }) });
    },
  };
}

