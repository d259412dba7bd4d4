import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { checkInteger } from '../util/checks.js';
import { seriesColumns, toMatrix, type SeriesColumnOptions, type SeriesData } from '../windowing/series-data.js';

/**
 * How one long series is laid out for `B` parallel streams: the usable steps are cut into `B` contiguous segments,
 * each into `chunksPerStream` chunks of `chunkLength` steps; chunk `k` of stream `s` is row `s + k·B`, so batch `k`
 * (rows `k·B … k·B + B − 1`) carries every stream one chunk further. The ragged tail is dropped.
 */
export interface StatefulLayout {
  readonly streams: number;
  readonly chunkLength: number;
  readonly chunksPerStream: number;
  /** Steps per stream actually used: `chunksPerStream · chunkLength`. */
  readonly segmentLength: number;
  readonly rows: number;
  /** Usable steps left over (not a multiple of `B · chunkLength`), dropped from each segment's end. */
  readonly dropped: number;
  /** Row of chunk `chunk` of stream `stream`: `stream + chunk · B`. */
  rowOf(stream: number, chunk: number): number;
  /** Series index of the first step of chunk `chunk` of stream `stream` (relative to the layout's start). */
  timeOf(stream: number, chunk: number): number;
}

/**
 * Lays out `steps` usable time steps for `streams` parallel streams in chunks of `chunkLength` (the truncated BPTT
 * length: gradients never flow across chunks).
 *
 * @example
 * ```ts
 * const l = statefulLayout(100, { streams: 2, chunkLength: 10 }); // 2 segments of 50 → 5 chunks each, 10 rows
 * l.rowOf(1, 3); // 7
 * l.timeOf(1, 3); // 80
 * ```
 */
export function statefulLayout(steps: number, options: { readonly streams: number; readonly chunkLength: number }): StatefulLayout {
  checkInteger(steps, 'steps', 0);
  checkInteger(options.streams, 'options.streams', 1);
  checkInteger(options.chunkLength, 'options.chunkLength', 1);
  const B = options.streams;
  const L = options.chunkLength;
  const perStream = Math.floor(steps / B);
  const K = Math.floor(perStream / L);
  if (K === 0) throw new FitstreamInputError('options', `${steps} steps cannot give ${B} stream(s) one chunk of ${L}; use fewer streams or shorter chunks.`);
  const segment = K * L;
  return {
    streams: B,
    chunkLength: L,
    chunksPerStream: K,
    segmentLength: segment,
    rows: B * K,
    dropped: steps - B * segment,
    rowOf: (s, k) => {
      if (!(Number.isInteger(s) && s >= 0 && s < B && Number.isInteger(k) && k >= 0 && k < K)) throw new FitstreamInputError('stream/chunk', `(${s}, ${k}) is outside ${B} streams × ${K} chunks.`);
      return s + k * B;
    },
    // Segments are contiguous blocks of `perStream` steps; only their first `segment` steps are used.
    timeOf: (s, k) => s * perStream + k * L,
  };
}

/** Options of {@link statefulData}. */
export interface StatefulDataOptions extends SeriesColumnOptions {
  /** Parallel streams = the model's fixed batch size `B`. */
  readonly batchSize: number;
  /** Steps per chunk: the truncated-BPTT length and the model's time dimension. */
  readonly chunkLength: number;
  /** Target = input `offset` steps later (default 1: next-step prediction). */
  readonly offset?: number;
}

/** Stateful training data: rows laid out per {@link statefulLayout}, and the batches where a new sequence starts. */
export interface StatefulData {
  /** Inputs `[rows, chunkLength, inputs]`. */
  readonly x: tf.Tensor3D;
  /** Per-step targets `[rows, chunkLength, targets]` (use `returnSequences: true`). */
  readonly y: tf.Tensor3D;
  readonly batchSize: number;
  /** One layout per independent sequence, in order. */
  readonly layouts: readonly StatefulLayout[];
  /** Batch indices at which a new independent sequence starts (state resets there); always starts with 0. */
  readonly sequenceStarts: readonly number[];
  readonly batches: number;
}

/**
 * Builds stateful training tensors from one long series, or several independent ones (the state resets between
 * them): for each, inputs `x_t` and targets `x_{t+offset}` laid out for `batchSize` streams, ragged tails dropped.
 *
 * @example
 * ```ts
 * const data = statefulData(series, { batchSize: 4, chunkLength: 25 });
 * await trainer.use(statefulRnn({ model, data })).fit(data, { epochs: 5, batchSize: 4 });
 * ```
 */
export function statefulData(series: SeriesData | { readonly sequences: readonly SeriesData[] }, options: StatefulDataOptions): StatefulData {
  const B = options.batchSize;
  const L = options.chunkLength;
  const offset = options.offset ?? 1;
  checkInteger(B, 'options.batchSize', 1);
  checkInteger(L, 'options.chunkLength', 1);
  checkInteger(offset, 'options.offset', 1);
  const sequences = 'sequences' in series ? series.sequences : [series];
  if (sequences.length === 0) throw new FitstreamInputError('series.sequences', 'is empty.');
  const mats = sequences.map((s, i) => toMatrix(s, sequences.length > 1 ? `series.sequences[${i}]` : 'series'));
  const dims = mats[0]!.dims;
  const { inputColumns, targetColumns } = seriesColumns(options, dims);
  const layouts = mats.map((m, i) => {
    if (m.dims !== dims) throw new FitstreamInputError(`series.sequences[${i}]`, `has ${m.dims} columns; the first sequence has ${dims}.`);
    return statefulLayout(m.length - offset, { streams: B, chunkLength: L });
  });
  const rows = layouts.reduce((n, l) => n + l.rows, 0);
  const x = new Float32Array(rows * L * inputColumns.length);
  const y = new Float32Array(rows * L * targetColumns.length);
  const sequenceStarts: number[] = [];
  let rowBase = 0;
  mats.forEach((m, i) => {
    const layout = layouts[i]!;
    sequenceStarts.push(rowBase / B);
    for (let s = 0; s < B; s++) {
      for (let k = 0; k < layout.chunksPerStream; k++) {
        const row = rowBase + layout.rowOf(s, k);
        const t0 = layout.timeOf(s, k);
        for (let j = 0; j < L; j++) {
          const t = t0 + j;
          inputColumns.forEach((c, ci) => (x[(row * L + j) * inputColumns.length + ci] = m.values[t * dims + c]!));
          targetColumns.forEach((c, ci) => (y[(row * L + j) * targetColumns.length + ci] = m.values[(t + offset) * dims + c]!));
        }
      }
    }
    rowBase += layout.rows;
  });
  return {
    x: tf.tensor3d(x, [rows, L, inputColumns.length]),
    y: tf.tensor3d(y, [rows, L, targetColumns.length]),
    batchSize: B,
    layouts,
    sequenceStarts,
    batches: rows / B,
  };
}
