import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { seriesColumns, toMatrix, type SeriesColumnOptions, type SeriesData } from './series-data.js';
import { windows, type WindowSpec, type Windows } from './windows.js';

/** Options of {@link windowTensors}. */
export interface WindowTensorOptions extends WindowSpec, SeriesColumnOptions {
  /** The split to window, `[start, end)` (default the whole series). */
  readonly range?: readonly [number, number];
  /**
   * Covariates known in the future (calendar features, planned prices): one row per step of the series. Their values
   * at each window's *target* steps come back as `xFuture` `[count, horizon, covariates]`.
   */
  readonly futureCovariates?: SeriesData;
}

/** Windowed tensors; the caller owns and disposes them. */
export interface WindowTensors {
  /** Inputs `[count, inputLength, inputColumns]`. */
  readonly x: tf.Tensor3D;
  /** Targets `[count, horizon]` for one target column, `[count, horizon, targetColumns]` for several. */
  readonly y: tf.Tensor;
  /** Future covariates at the target steps `[count, horizon, covariates]`, when given. */
  readonly xFuture?: tf.Tensor3D;
  readonly windows: Windows;
}

/**
 * Cuts one split of a (multivariate) series into `x`/`y` tensors following {@link windows}: split on time first, then
 * call this once per split.
 *
 * @example
 * ```ts
 * const { x, y } = windowTensors(series, { range: [0, 800], inputLength: 28, horizon: 7 }); // x [766, 28, 1], y [766, 7]
 * ```
 */
export function windowTensors(data: SeriesData, options: WindowTensorOptions): WindowTensors {
  const m = toMatrix(data, 'data');
  const range = options.range ?? [0, m.length];
  if (range[1] > m.length) throw new FitstreamInputError('options.range', `ends at ${range[1]} but the series has ${m.length} steps.`);
  const w = windows(range, options);
  if (w.count === 0) throw new FitstreamInputError('options', `the range [${range[0]}, ${range[1]}) is too short for one window (inputLength ${w.spec.inputLength}, samplingRate ${w.spec.samplingRate}, offset ${w.spec.offset}, horizon ${w.spec.horizon}).`);
  const { inputColumns, targetColumns } = seriesColumns(options, m.dims);
  const { inputLength: L, horizon: H } = w.spec;
  const x = new Float32Array(w.count * L * inputColumns.length);
  const y = new Float32Array(w.count * H * targetColumns.length);
  let xi = 0;
  let yi = 0;
  for (let i = 0; i < w.count; i++) {
    for (const t of w.inputIndex(i)) for (const c of inputColumns) x[xi++] = m.values[t * m.dims + c]!;
    for (const t of w.targetIndex(i)) for (const c of targetColumns) y[yi++] = m.values[t * m.dims + c]!;
  }
  let xFuture: tf.Tensor3D | undefined;
  if (options.futureCovariates !== undefined) {
    const cov = toMatrix(options.futureCovariates, 'options.futureCovariates');
    if (cov.length !== m.length) throw new FitstreamInputError('options.futureCovariates', `has ${cov.length} rows but the series has ${m.length}; pass one row per step.`);
    const f = new Float32Array(w.count * H * cov.dims);
    let fi = 0;
    for (let i = 0; i < w.count; i++) for (const t of w.targetIndex(i)) for (let c = 0; c < cov.dims; c++) f[fi++] = cov.values[t * cov.dims + c]!;
    xFuture = tf.tensor3d(f, [w.count, H, cov.dims]);
  }
  const yTensor = targetColumns.length === 1 ? tf.tensor2d(y, [w.count, H]) : tf.tensor3d(y, [w.count, H, targetColumns.length]);
  const out = { x: tf.tensor3d(x, [w.count, L, inputColumns.length]), y: yTensor, windows: w };
  return xFuture ? { ...out, xFuture } : out;
}
