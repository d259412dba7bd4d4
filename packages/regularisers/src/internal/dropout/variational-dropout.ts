import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, Random, type Plugin } from '@fitstream/core';
import { probability, requireOptions } from '../assert.js';
import { hostValues, resolveReport, type ReportSetting } from '../report/reporter.js';
import { inputTransformPlugin } from '../noise/input-transform-plugin.js';

function streamOf(random: Random | number | string): Random {
  return random instanceof Random ? random : Random.fromSeed(random);
}

/**
 * An inverted-dropout mask of `shape`: each entry is 0 with probability `rate`, else `1 / (1 − rate)` (so the expected
 * value of `x · mask` is `x`). Drawn from a fitstream stream or seed: the same stream state gives the same mask.
 *
 * @example
 * ```ts
 * const mask = variationalDropoutMask([batch, features], 0.25, Random.fromSeed(7));
 * ```
 */
export function variationalDropoutMask(shape: readonly number[], rate: number, random: Random | number | string): tf.Tensor {
  probability(rate, 'variationalDropoutMask: rate');
  if (rate === 0) return tf.ones([...shape]);
  const seed = streamOf(random).nextUint32();
  return tf.tidy(() => tf.div(tf.cast(tf.greaterEqual(tf.randomUniform([...shape], 0, 1, 'float32', seed), rate), 'float32'), 1 - rate));
}

/**
 * Variational (per-sequence) dropout of a sequence batch `[batch, time, features]` (Gal & Ghahramani; Keras/tfjs RNN
 * `dropout`): one mask per sequence, `[batch, 1, features]`, reused at every timestep, so a feature dropped in a
 * sequence is dropped at all of its steps. Deterministic under the stream.
 *
 * @example
 * ```ts
 * const y = variationalDropout(x, 0.2, Random.fromSeed(1)); // x: [32, 50, 8]
 * ```
 */
export function variationalDropout(x: tf.Tensor, rate: number, random: Random | number | string): tf.Tensor {
  if (x.rank !== 3) throw new FitstreamInputError('variationalDropout: x', `must be a sequence batch [batch, time, features], got shape [${x.shape.join(', ')}].`);
  if (rate === 0) return x;
  return tf.tidy(() => tf.mul(x, variationalDropoutMask([x.shape[0]!, 1, x.shape[2]!], rate, random)));
}

/** Options of {@link variationalInputDropout}. */
export interface VariationalInputDropoutOptions {
  readonly rate: number;
  /** For multi-input models: the input indices to drop (default: every rank-3 float input). */
  readonly inputs?: readonly number[];
  readonly name?: string;
  /** `regulariser:report` (kind `'dropout'`, host values); default every step. */
  readonly report?: ReportSetting;
}

// The preamble of every regulariser factory (options object, range check, name, report), alike by design; the plugin follows.
/**
 * Variational dropout on sequence inputs `[batch, time, features]` of training batches (never validation): one mask
 * per sequence and feature, reused across timesteps, drawn from the trainer's `(seed, epoch, batch)` stream — so a
 * run, and a resumed run, draw the same masks. For the recurrent state, use the RNN layer's own `recurrentDropout`
 * (tfjs already reuses its mask across timesteps, and the trainer seeds it).
 *
 * @example
 * ```ts
 * trainer.use(variationalInputDropout({ rate: 0.2 }));
 * ```
 */
export function variationalInputDropout(options: VariationalInputDropoutOptions): Plugin {
  requireOptions(options, 'variationalInputDropout', '{ rate: 0.2 }');
  const rate = probability(options.rate, 'variationalInputDropout: rate');
  const name = options.name ?? 'variational-input-dropout';
  const report = resolveReport(options.report, `${name}: report`);
  const only = options.inputs ? new Set(options.inputs) : undefined;
  const drop = (x: tf.Tensor, random: Random, i: number | undefined) => {
    if (x.dtype !== 'float32' || rate === 0) return x;
    if (x.rank !== 3) {
      if (i === undefined || only) throw new FitstreamInputError(name, `input${i === undefined ? '' : ` ${i}`} has shape [${x.shape.join(', ')}]; variational dropout needs sequences [batch, time, features].`);
      return x;
    }
    return variationalDropout(x, rate, random);
  };
  return inputTransformPlugin({ name, inputs: only, perturb: drop, report, body: () => ({ kind: 'dropout', values: hostValues({ rate }) }) });
}
