import { FitstreamInputError } from '@fitstream/core';
import { quantileSorted } from '../scalers/scalers.js';
import { checkInteger, checkSeries } from '../util/checks.js';

/** Options of {@link detectAnomalies}. */
export interface DetectAnomaliesOptions {
  /** Past readings the robust statistics use (default 200). Only the past: the detector runs online. */
  readonly window?: number;
  /** Flag a reading whose robust z-score exceeds this (default 4). */
  readonly threshold?: number;
}

/** Scores and flags, one per reading (the first `window` readings score 0). */
export interface AnomalyResult {
  /** `|x_t − median| / (1.4826 · MAD)` over the trailing window `[t − window, t)`. */
  readonly scores: Float64Array;
  readonly flags: Uint8Array;
}

/**
 * An online robust z-score detector: each reading is compared with the median and the median absolute deviation of
 * the `window` readings before it (never with itself or the future), so a level shift is flagged when it starts.
 *
 * @example
 * ```ts
 * const { motes } = await loadSensorAnomalies();
 * const { flags } = detectAnomalies(motes[0]!.temperature, { window: 200, threshold: 4 });
 * ```
 */
export function detectAnomalies(series: ArrayLike<number>, options: DetectAnomaliesOptions = {}): AnomalyResult {
  const window = options.window ?? 200;
  const threshold = options.threshold ?? 4;
  checkInteger(window, 'options.window', 3);
  if (!(threshold > 0)) throw new FitstreamInputError('options.threshold', `must be > 0, got ${String(threshold)}.`);
  checkSeries(series, 'series', window + 1);
  const scores = new Float64Array(series.length);
  const flags = new Uint8Array(series.length);
  const buf = new Float64Array(window);
  for (let t = window; t < series.length; t++) {
    for (let j = 0; j < window; j++) buf[j] = series[t - window + j]!;
    buf.sort();
    const median = quantileSorted(buf, 0.5);
    for (let j = 0; j < window; j++) buf[j] = Math.abs(series[t - window + j]! - median);
    buf.sort();
    // A floor on the MAD keeps quantised, flat stretches (many identical readings) from scoring noise as huge.
    const mad = Math.max(1.4826 * quantileSorted(buf, 0.5), 1e-2 * Math.max(1, Math.abs(median)));
    scores[t] = Math.abs(series[t]! - median) / mad;
    flags[t] = scores[t]! > threshold ? 1 : 0;
  }
  return { scores, flags };
}

/** Precision, recall and F1 of flags against labels (1 = anomaly). */
export function anomalyScores(flags: ArrayLike<number>, labels: ArrayLike<number>): { readonly precision: number; readonly recall: number; readonly f1: number } {
  if (flags.length !== labels.length) throw new FitstreamInputError('labels', `has ${labels.length} entries, flags ${flags.length}.`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] && labels[i]) tp++;
    else if (flags[i]) fp++;
    else if (labels[i]) fn++;
  }
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
}
