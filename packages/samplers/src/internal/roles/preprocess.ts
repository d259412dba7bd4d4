import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError, type Json } from '@fitstream/core';
import type { Role } from './roles.js';

/** A preprocessor that learns statistics: fitted on training rows only, then applied to every role. */
export interface Preprocessor {
  readonly name: string;
  /** Learns from `x` (the training rows); the result owns its tensors until disposed. */
  fit(x: tf.Tensor): FittedPreprocessor;
}

/** A fitted preprocessor. */
export interface FittedPreprocessor {
  readonly name: string;
  /** Always `'train'`: the only role a preprocessor may learn from. */
  readonly fittedOn: 'train';
  /** Rows it was fitted on. */
  readonly samples: number;
  /** Returns a new tensor. */
  transform(x: tf.Tensor): tf.Tensor;
  /** The learned statistics, for logs and checkpoints. */
  toJSON(): Json;
  dispose(): void;
}

/** Options of {@link standardScaler}. */
export interface StandardScalerOptions {
  /** Subtract the mean (default `true`). */
  readonly withMean?: boolean;
  /** Divide by the standard deviation (default `true`). A constant feature keeps scale 1, as in scikit-learn. */
  readonly withStd?: boolean;
}

/**
 * Per-feature standardisation (scikit-learn `StandardScaler`): mean and population standard deviation over the first
 * axis of the training rows.
 *
 * @example
 * ```ts
 * const scaler = standardScaler().fit(xTrain);
 * const xTestScaled = scaler.transform(xTest); // statistics from xTrain only
 * ```
 */
export function standardScaler(options: StandardScalerOptions = {}): Preprocessor {
  const { withMean = true, withStd = true } = options;
  return {
    name: 'standard-scaler',
    fit(x: tf.Tensor): FittedPreprocessor {
      const samples = x.shape[0] ?? 0;
      if (samples === 0) throw new FitstreamInputError('x', 'standardScaler cannot fit on 0 rows; pass the training rows.');
      const [mean, scale] = tf.tidy(() => {
        const { mean: m, variance } = tf.moments(x.toFloat(), 0);
        const std = tf.sqrt(variance);
        const s = tf.where(tf.lessEqual(std, 1e-12), tf.onesLike(std), std);
        return [withMean ? m : tf.zerosLike(m), withStd ? s : tf.onesLike(s)];
      });
      return {
        name: 'standard-scaler',
        fittedOn: 'train',
        samples,
        transform: (input) => tf.tidy(() => tf.div(tf.sub(input.toFloat(), mean), scale)),
        toJSON: () => ({ mean: Array.from(mean.dataSync()), scale: Array.from(scale.dataSync()), samples }),
        dispose: () => tf.dispose([mean, scale]),
      };
    },
  };
}

/** In-memory rows: inputs, targets and optional sample weights (first axis = samples). */
export interface Rows {
  readonly x: tf.Tensor;
  readonly y: tf.Tensor;
  readonly sampleWeight?: tf.Tensor1D;
}

/** Gathers rows by index into new tensors (the caller disposes them). */
export function gatherRows(data: Rows, indices: ArrayLike<number>): Rows {
  const n = data.y.shape[0] ?? 0;
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= n) throw new FitstreamInputError(`indices[${i}]`, `is ${v}, outside the ${n} rows [0, ${n - 1}].`);
  }
  return tf.tidy(() => {
    const idx = tf.tensor1d(Int32Array.from(indices), 'int32');
    return {
      x: tf.gather(data.x, idx),
      y: tf.gather(data.y, idx),
      ...(data.sampleWeight ? { sampleWeight: tf.gather(data.sampleWeight, idx) } : {}),
    } as unknown as tf.TensorContainer;
  }) as unknown as Rows;
}

/** Index sets of a split, by role; `train` is required. */
export type RoleIndices = { readonly train: ArrayLike<number> } & Partial<Record<Exclude<Role, 'train'>, ArrayLike<number>>>;

/** Rows per role, preprocessed with statistics fitted on the training rows only. */
export interface PreparedSplits {
  readonly train: Rows;
  readonly val?: Rows;
  readonly test?: Rows;
  readonly oob?: Rows;
  /** The preprocessors, fitted on `train`. */
  readonly fitted: readonly FittedPreprocessor[];
  /** Disposes every tensor made here (rows of every role and the fitted statistics). */
  dispose(): void;
}

/**
 * Gathers each role's rows and fits the preprocessors on the **training rows only**, in order (each on the output of
 * the previous), then applies them to every role: no statistic of validation or test rows leaks into training.
 *
 * @example
 * ```ts
 * const { train, test, dispose } = prepareSplits({ x, y }, trainTestSplit(150, { seed: 1 }), { preprocessors: [standardScaler()] });
 * ```
 */
export function prepareSplits(data: Rows, indices: RoleIndices, options: { readonly preprocessors?: readonly Preprocessor[] } = {}): PreparedSplits {
  if (!indices?.train || indices.train.length === 0) throw new FitstreamInputError('indices.train', 'is empty; preprocessors are fitted on the training rows, so pass at least one.');
  const made: tf.Tensor[] = [];
  const fitted: FittedPreprocessor[] = [];
  const out: Partial<Record<Role, Rows>> = {};
  try {
    for (const role of ['train', 'val', 'test', 'oob'] as const) {
      const idx = indices[role];
      if (idx === undefined) continue;
      const rows = gatherRows(data, idx);
      out[role] = rows;
      made.push(rows.x, rows.y, ...(rows.sampleWeight ? [rows.sampleWeight] : []));
    }
    for (const p of options.preprocessors ?? []) {
      const f = p.fit(out.train!.x);
      fitted.push(f);
      for (const role of Object.keys(out) as Role[]) {
        const rows = out[role]!;
        const x = f.transform(rows.x);
        made.push(x);
        out[role] = { ...rows, x };
      }
    }
  } catch (error) {
    tf.dispose(made);
    fitted.forEach((f) => f.dispose());
    throw error;
  }
  return {
    ...out,
    train: out.train!,
    fitted,
    dispose: () => {
      tf.dispose(made);
      fitted.forEach((f) => f.dispose());
    },
  };
}
