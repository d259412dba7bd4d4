import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { checkInteger } from '../util/checks.js';
import { toMatrix, type SeriesData } from '../windowing/series-data.js';
import { disposeState, resetState, restoreState, snapshotState, statefulLayers, type StateSnapshot } from './state.js';

/** Options of {@link statefulForecaster}. */
export interface StatefulForecasterOptions {
  /** The trained stateful model (any fixed batch size); its weights are copied into a batch-size-1 inference copy. */
  readonly model: tf.LayersModel;
  /** Which input column the model's output feeds back into during closed-loop generation (default 0). */
  readonly targetColumn?: number;
}

/**
 * A batch-size-1 copy of a trained stateful RNN that continues from the training series into the unseen future:
 * `warmUp(history)` runs the history through in order (inference mode) to build the state, then `teacherForced`
 * scores observed steps one ahead, or `closedLoop(h)` generates `h` steps feeding its own predictions back. The model
 * maps the row at step t to a prediction of the target at t + 1 (`returnSequences: true`, or a 2-D output).
 */
export interface StatefulForecaster {
  /** The inference copy (batch 1, any sequence length). Dispose it with {@link StatefulForecaster.dispose}. */
  readonly model: tf.LayersModel;
  /** The prediction for the step after everything fed so far (`NaN` before the first warm-up). */
  readonly next: number;
  /** Copies the training model's current weights again (after more training). */
  syncWeights(): void;
  resetState(): void;
  snapshotState(): StateSnapshot & { readonly next: number };
  restoreState(snapshot: StateSnapshot & { readonly next: number }): void;
  /** Resets, then feeds `history` in order; returns the one-step predictions for steps 1 … n (the last is `next`). */
  warmUp(history: SeriesData): Float64Array;
  /**
   * Teacher forcing: prediction `i` is made before seeing `observed[i]` (from the state after `observed[0 … i−1]`);
   * the state advances through every observed row.
   */
  teacherForced(observed: SeriesData): Float64Array;
  /**
   * Generates `horizon` steps, feeding each prediction back as the next input's target column; other input columns
   * come from `futureCovariates` (one row per generated step but the first: rows for steps 2 … h, covariates known
   * in advance). The state is restored afterwards, so one warm state serves several calls.
   */
  closedLoop(horizon: number, options?: { readonly futureCovariates?: SeriesData }): Float64Array;
  dispose(): void;
}

/** Rewrites every `batch_input_shape` of a layers topology to `[batchSize, null, …]`. */
function rebatch(node: unknown, batchSize: number): void {
  if (Array.isArray(node)) {
    for (const n of node) rebatch(n, batchSize);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if ((key === 'batch_input_shape' || key === 'batch_shape') && Array.isArray(value) && value.length >= 2) {
      record[key] = [batchSize, null, ...(value as unknown[]).slice(2)];
    } else {
      rebatch(value, batchSize);
    }
  }
}

/**
 * Builds a stateful copy of `model` with batch size `batchSize` (default 1) and a free sequence length, holding the
 * same weight values (copied; call `setWeights` again after more training). The keras#2322 recipe for predicting one
 * stream with a model trained on B streams.
 *
 * @example
 * ```ts
 * const single = await inferenceCopy(trained); // batchInputShape [1, null, features]
 * ```
 */
export async function inferenceCopy(model: tf.LayersModel, batchSize = 1): Promise<tf.LayersModel> {
  checkInteger(batchSize, 'batchSize', 1);
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  const copyTopology = JSON.parse(JSON.stringify(topology)) as Record<string, unknown>;
  rebatch(copyTopology, batchSize);
  const copy = await tf.models.modelFromJSON({ modelTopology: copyTopology as tf.io.ModelJSON['modelTopology'] });
  copy.setWeights(model.getWeights());
  return copy;
}

/**
 * Wraps a trained stateful model for continuation into the test period (see {@link StatefulForecaster}).
 *
 * @example
 * ```ts
 * const f = await statefulForecaster({ model });
 * f.warmUp(trainSeries);                 // state at the end of training, inference mode
 * const warm = f.snapshotState();
 * const scored = f.teacherForced(test);  // one-step-ahead predictions over the test period
 * f.restoreState(warm);
 * const generated = f.closedLoop(28);    // 28 steps, feeding predictions back
 * ```
 */
export async function statefulForecaster(options: StatefulForecasterOptions): Promise<StatefulForecaster> {
  const source = options.model;
  if (statefulLayers(source).length === 0) throw new FitstreamInputError('options.model', `"${source.name}" has no stateful RNN layer.`);
  const model = await inferenceCopy(source, 1);
  const features = model.inputs[0]!.shape[2];
  if (typeof features !== 'number') throw new FitstreamInputError('options.model', 'needs a known feature count (the last axis of batchInputShape).');
  const targetColumn = options.targetColumn ?? 0;
  if (!Number.isInteger(targetColumn) || targetColumn < 0 || targetColumn >= features) throw new FitstreamInputError('options.targetColumn', `${targetColumn} is outside the ${features} input column(s).`);
  let next = Number.NaN;

  /** Feeds rows `[n, features]` in order; returns the one-step prediction after each row. */
  const feed = (values: Float64Array, n: number): Float64Array => {
    if (n === 0) return new Float64Array(0);
    const sequence = model.outputs[0]!.shape.length === 3;
    const out = new Float64Array(n);
    if (sequence) {
      const y = tf.tidy(() => {
        const x = tf.tensor3d(Float32Array.from(values), [1, n, features]);
        const pred = model.apply(x, { training: false }) as tf.Tensor;
        return pred.reshape([n, -1]).slice([0, 0], [n, 1]).reshape([n]);
      });
      out.set(y.dataSync());
      y.dispose();
    } else {
      for (let t = 0; t < n; t++) {
        const y = tf.tidy(() => {
          const x = tf.tensor3d(Float32Array.from(values.subarray(t * features, (t + 1) * features)), [1, 1, features]);
          return (model.apply(x, { training: false }) as tf.Tensor).reshape([-1]).slice([0], [1]);
        });
        out[t] = y.dataSync()[0]!;
        y.dispose();
      }
    }
    next = out[n - 1]!;
    return out;
  };
  const rows = (data: SeriesData, argument: string) => {
    const m = toMatrix(data, argument);
    if (m.dims !== features) throw new FitstreamInputError(argument, `has ${m.dims} column(s); the model takes ${features}.`);
    return m;
  };
  const snapshot = () => Object.assign(snapshotState(model), { next });

  return {
    model,
    get next() {
      return next;
    },
    syncWeights: () => model.setWeights(source.getWeights()),
    resetState: () => {
      resetState(model);
      next = Number.NaN;
    },
    snapshotState: snapshot,
    restoreState: (s) => {
      restoreState(model, s);
      next = s.next;
    },
    warmUp(history) {
      const m = rows(history, 'history');
      resetState(model);
      return feed(m.values, m.length);
    },
    teacherForced(observed) {
      if (Number.isNaN(next)) throw new Error('teacherForced: call warmUp(history) first, so that the state holds the past.');
      const m = rows(observed, 'observed');
      const first = next;
      const after = feed(m.values, m.length);
      const out = new Float64Array(m.length);
      out[0] = first;
      out.set(after.subarray(0, m.length - 1), 1);
      return out;
    },
    closedLoop(horizon, opts = {}) {
      checkInteger(horizon, 'horizon', 1);
      if (Number.isNaN(next)) throw new Error('closedLoop: call warmUp(history) first, so that the state holds the past.');
      let covariates: Float64Array | undefined;
      const covDims = features - 1;
      if (covDims > 0) {
        if (opts.futureCovariates === undefined) throw new FitstreamInputError('options.futureCovariates', `the model takes ${covDims} column(s) besides the target; pass their known future values (${horizon - 1} rows).`);
        const m = toMatrix(opts.futureCovariates, 'options.futureCovariates');
        if (m.dims !== covDims || m.length < horizon - 1) throw new FitstreamInputError('options.futureCovariates', `must be ${horizon - 1} rows of ${covDims} value(s), got ${m.length} rows of ${m.dims}.`);
        covariates = m.values;
      }
      const saved = snapshot();
      try {
        const out = new Float64Array(horizon);
        out[0] = next;
        for (let h = 1; h < horizon; h++) {
          const row = new Float64Array(features);
          for (let c = 0, j = 0; c < features; c++) row[c] = c === targetColumn ? out[h - 1]! : covariates![(h - 1) * covDims + j++]!;
          out[h] = feed(row, 1)[0]!;
        }
        return out;
      } finally {
        restoreState(model, saved);
        next = saved.next;
        disposeState(saved);
      }
    },
    dispose: () => model.dispose(),
  };
}
