// Downsampling for drawing. A million-step run has a million points per curve, and the chart is ~500 pixels wide:
// per pixel column we keep the first, last, lowest and highest point (M4, Jugel et al., "M4: A Visualization-Oriented
// Time Series Data Aggregation", VLDB 2014). A line through those points lights the same pixels as the line through
// all of them, so every spike stays visible. The npm packages for this (`downsample`, `downsample-lttb`) implement
// LTTB, which keeps one point per bucket — a bucket's minimum and maximum cannot both survive, so a spike next to a
// dip is lost — and take arrays of point objects; M4 over two typed columns is one pass and ~40 lines.

/** Per pixel column, the index of its first, last, lowest and highest point (-1 for a column without points). */
export interface Columns {
  readonly count: number;
  readonly first: Int32Array;
  readonly last: Int32Array;
  readonly low: Int32Array;
  readonly high: Int32Array;
}

/**
 * Groups the points `i` with `keep(i)` by pixel column: x in [x0, x1] maps to `count` columns. One pass; points
 * outside [x0, x1] go to the nearest end column.
 */
export function pixelColumns(x: ArrayLike<number>, y: ArrayLike<number>, x0: number, x1: number, count: number, keep: (i: number) => boolean): Columns {
  const first = new Int32Array(count).fill(-1);
  const last = new Int32Array(count).fill(-1);
  const low = new Int32Array(count).fill(-1);
  const high = new Int32Array(count).fill(-1);
  // Halves: x1 - x0 overflows when the range spans more than Number.MAX_VALUE.
  const scale = x1 / 2 - x0 / 2 > 0 ? count / (x1 / 2 - x0 / 2) : 0;
  for (let i = 0; i < x.length; i++) {
    if (!keep(i)) continue;
    const c = Math.min(count - 1, Math.max(0, Math.floor((x[i]! / 2 - x0 / 2) * scale)));
    if (first[c] === -1) {
      first[c] = last[c] = low[c] = high[c] = i;
      continue;
    }
    last[c] = i;
    if (y[i]! < y[low[c]!]!) low[c] = i;
    if (y[i]! > y[high[c]!]!) high[c] = i;
  }
  return { count, first, last, low, high };
}

/**
 * M4: the indices of the points to draw a line through (each column's first, lowest, highest and last point), in
 * ascending order — at most 4 per column.
 */
export function m4Indices(columns: Columns): Int32Array {
  const out = new Int32Array(columns.count * 4);
  let n = 0;
  for (let c = 0; c < columns.count; c++) {
    if (columns.first[c] === -1) continue;
    const picks = [columns.first[c]!, columns.low[c]!, columns.high[c]!, columns.last[c]!].sort((a, b) => a - b);
    for (let k = 0; k < 4; k++) if (k === 0 || picks[k] !== picks[k - 1]) out[n++] = picks[k]!;
  }
  // Columns are visited left to right; within a fit x grows with the index, so this is index order. A log whose steps
  // go back (several fits drawn together) is sorted here so that the path still follows the log.
  return out.subarray(0, n).sort();
}
