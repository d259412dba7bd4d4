import * as tf from '@tensorflow/tfjs';
import { createTrainer, withSeed, type BackendPreference, type Random, type FitOptions, type FitResult, type OptimizerSpec, type Trainer } from '@fitstream/core';
import type { Forecaster } from '../baselines/baselines.js';
import { checkInteger } from '../util/checks.js';
import { windowTensors } from '../windowing/window-tensors.js';

/** Options of {@link lstmForecaster}. */
export interface LstmForecasterOptions {
  /** Past values per input window (default 28). */
  readonly inputLength?: number;
  /** Steps emitted at once by the multi-output head (default 7); longer horizons are generated recursively by blocks. */
  readonly horizon?: number;
  readonly units?: number;
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly learningRate?: number;
  /** Seeds the weights, the shuffling and everything else random (default 42). */
  readonly seed?: number;
  /** Backend for the trainer (default `'current'`: whatever tfjs runs on). */
  readonly backend?: BackendPreference | 'current';
  /** The optimizer (default Adam with `learningRate`). A name or spec: each fit gets a fresh optimizer. */
  readonly optimizer?: Exclude<OptimizerSpec, tf.Optimizer>;
  /** Seeds the initial weights (default `seed`); e.g. `Random.fromSeed(42).derive('model-init', fold)`. */
  readonly initSeed?: number | string | Random;
  /** Adds plugins (loggers, progress bars, guards) to each fit's trainer. */
  readonly configure?: (trainer: Trainer) => void;
  /** Extra fit options (e.g. `limitBatches`, `handleSignals`). */
  readonly fitOptions?: Omit<FitOptions, 'epochs' | 'batchSize'>;
  /** Called after each fit with its result and the number of training windows (logging, interruption checks). */
  readonly onFit?: (result: FitResult, info: { readonly windows: number; readonly durationMs: number }) => void;
}

/**
 * A small LSTM forecaster with a multi-output head (one model emits `horizon` values), trained with the core trainer
 * on windows of the training span. Use it in a {@link backtest} (with a scaler: it expects roughly standardised values).
 *
 * @example
 * ```ts
 * const report = (await runBacktest({ series, forecaster: () => lstmForecaster({ epochs: 10 }), start, horizon: 7, stride: 7, retrain: 4, scaler: standardScaler(), m: 7 })).report;
 * ```
 */
export function lstmForecaster(options: LstmForecasterOptions = {}): Forecaster {
  const L = options.inputLength ?? 28;
  const H = options.horizon ?? 7;
  const units = options.units ?? 32;
  const epochs = options.epochs ?? 10;
  const batchSize = options.batchSize ?? 32;
  const seed = options.seed ?? 42;
  for (const [k, v] of Object.entries({ inputLength: L, horizon: H, units, epochs, batchSize })) checkInteger(v, `options.${k}`, 1);
  let model: tf.LayersModel | undefined;
  const build = () =>
    withSeed(options.initSeed ?? seed, () =>
      tf.sequential({
        layers: [tf.layers.lstm({ units, inputShape: [L, 1] }), tf.layers.dense({ units: H })],
      }),
    );
  return {
    name: 'lstm',
    async fit(train) {
      model?.dispose();
      model = build();
      const { x, y } = windowTensors(train, { inputLength: L, horizon: H });
      // A named optimizer is owned (and disposed) by the trainer.
      const optimizer = options.optimizer ?? { name: 'adam' as const, learningRate: options.learningRate ?? 0.01 };
      const trainer = createTrainer({ model, optimizer, loss: 'meanSquaredError', seed, backend: options.backend ?? 'current', log: null });
      options.configure?.(trainer);
      const started = performance.now();
      try {
        const result = await trainer.fit({ x, y }, { handleSignals: false, ...options.fitOptions, epochs, batchSize });
        options.onFit?.(result, { windows: x.shape[0]!, durationMs: performance.now() - started });
      } finally {
        trainer.dispose();
        tf.dispose([x, y]);
      }
    },
    predict(history, horizon) {
      if (!model) throw new Error('lstmForecaster: call fit(train) before predict.');
      const m = model;
      const values = Array.from(history.subarray(Math.max(0, history.length - L)));
      if (values.length < L) throw new Error(`lstmForecaster: the history has ${values.length} values; the model reads ${L}.`);
      const out: number[] = [];
      while (out.length < horizon) {
        const block = tf.tidy(() => (m.apply(tf.tensor3d(Float32Array.from(values.slice(-L)), [1, L, 1]), { training: false }) as tf.Tensor).dataSync());
        for (const v of block) {
          if (out.length < horizon) out.push(v);
          values.push(v); // longer horizons: feed whole blocks back (recursive by blocks)
        }
      }
      return Float64Array.from(out);
    },
    dispose() {
      model?.dispose();
      model = undefined;
    },
  };
}
