import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { checkInteger } from '../util/checks.js';

/** Multi-step strategies (sktime `make_reduction`, Bontempi et al. 2013). */
export type MultiStepStrategy = 'recursive' | 'direct' | 'multi-output';

/** A window predictor: `inputs` is a batch of windows (each `inputLength` values, oldest first); returns one value per window per output. */
export type WindowPredictor = (windows: readonly Float64Array[]) => readonly (ArrayLike<number>)[] | Promise<readonly (ArrayLike<number>)[]>;

/** Options of {@link multiStepForecast}. */
export interface MultiStepOptions {
  readonly strategy: MultiStepStrategy;
  /** Values per input window. */
  readonly inputLength: number;
  /**
   * `recursive`: one 1-step predictor, fed its own predictions; `direct`: one predictor per step (`predictors[h−1]`
   * forecasts step h); `multi-output`: one predictor returning all `horizon` values.
   */
  readonly predictors: readonly WindowPredictor[];
}

/**
 * Forecasts `horizon` steps after `history` with one of three strategies. Only `history` is read — never anything
 * after it: recursive generation feeds back its own predictions, not observations.
 *
 * @example
 * ```ts
 * const oneStep: WindowPredictor = (ws) => ws.map((w) => [w[w.length - 1]! + 1]); // a perfect trend oracle
 * await multiStepForecast(Float64Array.of(1, 2, 3), 3, { strategy: 'recursive', inputLength: 2, predictors: [oneStep] }); // [4, 5, 6]
 * ```
 */
export async function multiStepForecast(history: ArrayLike<number>, horizon: number, options: MultiStepOptions): Promise<Float64Array> {
  checkInteger(horizon, 'horizon', 1);
  checkInteger(options.inputLength, 'options.inputLength', 1);
  const L = options.inputLength;
  if (history.length < L) throw new FitstreamInputError('history', `has ${history.length} values; the window needs ${L}.`);
  const window = new Float64Array(L);
  for (let j = 0; j < L; j++) window[j] = history[history.length - L + j]!;
  const first = (out: readonly ArrayLike<number>[], who: string): ArrayLike<number> => {
    const row = out[0];
    if (!row || row.length < 1) throw new Error(`${who} returned no value for the window.`);
    return row;
  };
  switch (options.strategy) {
    case 'recursive': {
      const [predict] = options.predictors;
      if (!predict || options.predictors.length !== 1) throw new FitstreamInputError('options.predictors', 'recursive takes exactly one 1-step predictor.');
      const out = new Float64Array(horizon);
      const w = window.slice();
      for (let h = 0; h < horizon; h++) {
        out[h] = first(await predict([w.slice()]), 'the recursive predictor')[0]!;
        w.copyWithin(0, 1);
        w[L - 1] = out[h]!;
      }
      return out;
    }
    case 'direct': {
      if (options.predictors.length !== horizon) throw new FitstreamInputError('options.predictors', `direct needs one predictor per step: ${horizon}, got ${options.predictors.length}.`);
      const out = new Float64Array(horizon);
      for (let h = 0; h < horizon; h++) out[h] = first(await options.predictors[h]!([window.slice()]), `direct predictor ${h + 1}`)[0]!;
      return out;
    }
    case 'multi-output': {
      const [predict] = options.predictors;
      if (!predict || options.predictors.length !== 1) throw new FitstreamInputError('options.predictors', 'multi-output takes exactly one predictor that returns all steps.');
      const row = first(await predict([window.slice()]), 'the multi-output predictor');
      if (row.length < horizon) throw new Error(`the multi-output predictor returned ${row.length} values for horizon ${horizon}.`);
      return Float64Array.from({ length: horizon }, (_, h) => row[h]!);
    }
    default:
      throw new FitstreamInputError('options.strategy', `must be 'recursive', 'direct' or 'multi-output', got ${String(options.strategy as unknown)}.`);
  }
}

/**
 * Wraps a tfjs model `[batch, inputLength, 1] → [batch, outputs]` (or `[batch, outputs, 1]`) as a {@link WindowPredictor}
 * running in inference mode.
 *
 * @example
 * ```ts
 * await multiStepForecast(history, 7, { strategy: 'multi-output', inputLength: 28, predictors: [modelPredictor(model)] });
 * ```
 */
export function modelPredictor(model: { apply(x: tf.Tensor, kwargs: { training: boolean }): unknown }): WindowPredictor {
  return async (windows) => {
    const L = windows[0]?.length ?? 0;
    const flat = new Float32Array(windows.length * L);
    windows.forEach((w, i) => flat.set(w, i * L));
    const y = tf.tidy(() => {
      const out = model.apply(tf.tensor3d(flat, [windows.length, L, 1]), { training: false }) as tf.Tensor;
      return out.reshape([windows.length, -1]);
    });
    const values = (await y.array()) as number[][];
    y.dispose();
    return values;
  };
}
