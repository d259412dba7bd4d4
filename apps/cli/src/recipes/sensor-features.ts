/**
 * Trailing-window features of one sensor channel, for a per-reading anomaly classifier. Every feature of reading t
 * uses readings before and at t only (an online detector: no future, no other mote), and is scale-free, so a model
 * trained on some motes applies to another with other humidity and temperature levels.
 */

const LN_SCALE = 1.4826; // MAD → standard deviation for normal data

function median(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** `sign(z)·log(1 + |z|)`: keeps the sign and the order of robust z-scores, tames their tails. */
export const signedLog = (z: number): number => Math.sign(z) * Math.log1p(Math.abs(z));

/**
 * Robust z-scores of each reading against the `window` readings before it: `(x_t − median) / (1.4826·MAD)`, with a
 * floor on the MAD (`floor`, in the channel's units) so that quantised, flat stretches do not turn noise into huge
 * scores. Readings with fewer than `window` predecessors score 0.
 */
export function trailingRobustZ(series: ArrayLike<number>, window: number, floor: number): Float64Array {
  const out = new Float64Array(series.length);
  const buf = new Float64Array(window);
  for (let t = window; t < series.length; t++) {
    for (let j = 0; j < window; j++) buf[j] = series[t - window + j]!;
    buf.sort();
    const med = median(buf);
    for (let j = 0; j < window; j++) buf[j] = Math.abs(series[t - window + j]! - med);
    buf.sort();
    out[t] = (series[t]! - med) / Math.max(LN_SCALE * median(buf), floor);
  }
  return out;
}

/** Options of {@link sensorFeatures}. */
export interface SensorFeatureOptions {
  /** Trailing windows (in readings) of the robust z-scores, e.g. `[20, 120]`. */
  readonly windows: readonly number[];
  /** MAD floors per channel, in its units (humidity %, temperature °C). */
  readonly floors: { readonly humidity: number; readonly temperature: number };
}

/** The longest trailing window: rows before it is full are dropped. */
export function longestWindow(options: Pick<SensorFeatureOptions, 'windows'>): number {
  return options.windows.reduce((a, b) => Math.max(a, b), 0);
}

/** Feature names, in column order. */
export function sensorFeatureNames(options: SensorFeatureOptions): string[] {
  return ['humidity', 'temperature'].flatMap((c) => [...options.windows.map((w) => `${c} z(${w})`), `${c} step z(${longestWindow(options)})`]);
}

/**
 * Per reading: for humidity and temperature, the signed-log robust z-score against each trailing window, and the
 * first difference scaled by the longest window's MAD. Rows before the longest window is full are dropped (`first`).
 */
export function sensorFeatures(mote: { readonly humidity: ArrayLike<number>; readonly temperature: ArrayLike<number> }, options: SensorFeatureOptions): { rows: number[][]; first: number } {
  const longest = longestWindow(options);
  const columns: Float64Array[] = [];
  for (const channel of ['humidity', 'temperature'] as const) {
    const x = mote[channel];
    const floor = options.floors[channel];
    for (const w of options.windows) columns.push(trailingRobustZ(x, w, floor));
    const diffs = Float64Array.from({ length: x.length }, (_, t) => (t === 0 ? 0 : x[t]! - x[t - 1]!));
    // The step's size against the spread of recent steps.
    columns.push(trailingRobustZ(diffs, longest, floor));
  }
  const rows: number[][] = [];
  for (let t = longest; t < mote.humidity.length; t++) rows.push(columns.map((c) => signedLog(c[t]!)));
  return { rows, first: longest };
}
