import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import type { Place, Scaling } from './encode.js';
import { readImage, type ImageOptions } from './read-images.js';
import { MAX_INFERRED_CLASSES, type Task } from './roles.js';
import { sampleSize, type NdArray } from './table.js';

/** A fitted encoding of array data (`.npz`, a data module), as `data.json` records it. */
export interface ArrayEncodingRecord {
  readonly kind: 'arrays';
  readonly version: 1;
  readonly statisticsFrom: 'train split';
  /** One sample's input shape. */
  readonly sampleShape: readonly number[];
  readonly scale: Scaling;
  /** Per input element (flattened sample): `(v − offset) / divisor`; absent with `scale: 'none'`. */
  readonly offset?: readonly number[] | undefined;
  readonly divisor?: readonly number[] | undefined;
  readonly task: Task;
  /** Class names (the distinct target values, or one-hot positions), index order. */
  readonly classNames?: readonly string[] | undefined;
  /** Whether targets are one-hot rows (class = position of the 1). */
  readonly oneHot?: boolean | undefined;
  /** Regression: values per sample's target. */
  readonly targetSize?: number | undefined;
}

/** Arrays encoded for the model; tensors are the caller's. */
export interface EncodedArrays {
  readonly x: tf.Tensor;
  readonly y?: tf.Tensor | undefined;
  readonly sampleWeight?: tf.Tensor1D | undefined;
}

/** A fitted encoding of array inputs: scaling statistics and the target's classes. */
export interface ArrayEncoding {
  readonly kind: 'arrays';
  readonly featureCount: number;
  readonly inputShape: readonly number[];
  readonly task: Task;
  readonly classNames?: readonly string[] | undefined;
  /** Encodes the given rows (all when `rows` is omitted) of `x` and, when given, `y` and `sampleWeight`. */
  apply(data: { readonly x: NdArray; readonly y?: NdArray | undefined; readonly sampleWeight?: NdArray | undefined }, rows?: ArrayLike<number>): EncodedArrays;
  toJSON(): ArrayEncodingRecord;
}

/** An image folder's encoding: the size, channels and class names images are read with. */
export interface ImageEncodingRecord {
  readonly kind: 'images';
  readonly version: 1;
  readonly size: readonly [number, number];
  readonly channels: 1 | 3;
  readonly task: 'classification';
  readonly classNames: readonly string[];
}

/** A fitted image encoding: files → model inputs as the training images were read. */
export interface ImageEncoding {
  readonly kind: 'images';
  readonly featureCount: number;
  readonly inputShape: readonly number[];
  readonly task: 'classification';
  readonly classNames: readonly string[];
  /** Reads, resizes and scales image files: `[files, height, width, channels]`. */
  applyFiles(files: readonly string[]): Promise<tf.Tensor4D>;
  toJSON(): ImageEncodingRecord;
}

const rowCount = (a: NdArray) => a.shape[0] ?? 0;

/** The values of a target with one value per row (`[n]` or `[n, 1]`), or undefined for wider targets. */
function columnTarget(y: NdArray): ArrayLike<number> | undefined {
  return y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1) ? y.data : undefined;
}

/** Whether every row of a 2-D target is one-hot (0/1 with exactly one 1). */
function isOneHot(y: NdArray): boolean {
  if (y.shape.length !== 2 || (y.shape[1] ?? 0) < 2) return false;
  const k = y.shape[1]!;
  for (let r = 0; r < rowCount(y); r++) {
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const v = y.data[r * k + c]!;
      if (v !== 0 && v !== 1) return false;
      sum += v;
    }
    if (sum !== 1) return false;
  }
  return true;
}

/**
 * The task and classes of array targets: given, or classification for bool targets, one-hot rows, or one value per row
 * with at most {@link MAX_INFERRED_CLASSES} distinct integers; otherwise regression.
 *
 * @example
 * ```ts
 * arrayTask({ dtype: 'int32', shape: [4], data: Int32Array.of(0, 1, 1, 0) }); // { task: 'classification', classNames: ['0', '1'], oneHot: false }
 * ```
 */
export function arrayTask(y: NdArray, given?: Task): { task: Task; classNames?: string[]; oneHot: boolean } {
  const values = columnTarget(y);
  const oneHot = values === undefined && given !== 'regression' && isOneHot(y);
  if (oneHot) return { task: 'classification', classNames: Array.from({ length: y.shape[1]! }, (_, i) => String(i)), oneHot };
  if (given === 'classification' && values === undefined) {
    throw new FitstreamInputError('data.task', `is classification, but y has shape [${y.shape.join(', ')}]: give one class per row ([n] or [n, 1]) or one-hot rows.`);
  }
  if (given === 'regression' || values === undefined) return { task: 'regression', oneHot: false };
  const distinct = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    if (given === undefined && !Number.isInteger(v)) return { task: 'regression', oneHot: false };
    distinct.add(v);
  }
  if (given === undefined && distinct.size > MAX_INFERRED_CLASSES) return { task: 'regression', oneHot: false };
  return { task: 'classification', classNames: [...distinct].sort((a, b) => a - b).map(String), oneHot: false };
}

/** Class index (or one-hot position) per row. */
export function classLabels(y: NdArray, oneHot: boolean, classNames: readonly string[]): Int32Array {
  const n = rowCount(y);
  if (oneHot) {
    const k = y.shape[1]!;
    return Int32Array.from({ length: n }, (_, r) => {
      for (let c = 0; c < k; c++) if (y.data[r * k + c] === 1) return c;
      return -1;
    });
  }
  const index = new Map(classNames.map((name, i) => [name, i]));
  return Int32Array.from({ length: n }, (_, r) => {
    const i = index.get(String(y.data[r]));
    if (i === undefined) throw new FitstreamInputError('data', `y: row ${r + 1}: ${y.data[r]} is not one of the classes ${classNames.join(', ')}.`);
    return i;
  });
}

/**
 * Rows with a NaN in `x`, `y` or the weights, as places (`row R, column "x[E]"`) and a set of row indices.
 *
 * @example
 * ```ts
 * findNaN({ x, y }); // { places: [{ row: 4, column: 'x[2]' }], rows: Set { 3 } }
 * ```
 */
export function findNaN(arrays: { readonly x: NdArray; readonly y: NdArray; readonly sampleWeight?: NdArray | undefined }): { places: Place[]; rows: Set<number> } {
  const places: Place[] = [];
  const rows = new Set<number>();
  for (const [name, a] of Object.entries(arrays) as [string, NdArray | undefined][]) {
    if (a === undefined || a.dtype !== 'float32' && a.dtype !== 'float64') continue;
    const size = sampleSize(a);
    for (let i = 0; i < a.data.length; i++) {
      if (!Number.isNaN(a.data[i]!)) continue;
      const row = Math.floor(i / size);
      places.push({ row: row + 1, column: size === 1 ? name : `${name}[${i % size}]` });
      rows.add(row);
    }
  }
  return { places, rows };
}

/** The given rows of an array, as float32. */
function gather(a: NdArray, rows: ArrayLike<number>): Float32Array {
  const size = sampleSize(a);
  const out = new Float32Array(rows.length * size);
  for (let r = 0; r < rows.length; r++) {
    const start = rows[r]! * size;
    for (let j = 0; j < size; j++) out[r * size + j] = a.data[start + j]!;
  }
  return out;
}

/**
 * Fits an array encoding on the training rows: per-element scaling statistics (`standard` or `minmax`) of the
 * flattened samples, and the target's classes.
 *
 * @example
 * ```ts
 * const encoding = fitArrayEncoding(data.x, split.train, { scale: 'standard', task: 'classification', classNames: ['0', '1'], oneHot: false });
 * const { x, y } = encoding.apply(data, split.validation);
 * ```
 */
export function fitArrayEncoding(x: NdArray, trainRows: ArrayLike<number>, options: { scale: Scaling; task: Task; classNames?: readonly string[] | undefined; oneHot: boolean; targetSize?: number }): ArrayEncoding {
  const size = sampleSize(x);
  let offset: number[] | undefined;
  let divisor: number[] | undefined;
  if (options.scale !== 'none') {
    const sum = new Float64Array(size);
    const squares = new Float64Array(size);
    const min = new Float64Array(size).fill(Infinity);
    const max = new Float64Array(size).fill(-Infinity);
    for (let r = 0; r < trainRows.length; r++) {
      const start = trainRows[r]! * size;
      for (let j = 0; j < size; j++) {
        const v = x.data[start + j]!;
        sum[j] = sum[j]! + v;
        min[j] = Math.min(min[j]!, v);
        max[j] = Math.max(max[j]!, v);
      }
    }
    const n = trainRows.length;
    const mean = Array.from(sum, (s) => s / n);
    for (let r = 0; r < n; r++) {
      const start = trainRows[r]! * size;
      for (let j = 0; j < size; j++) squares[j] = squares[j]! + (x.data[start + j]! - mean[j]!) ** 2;
    }
    if (options.scale === 'standard') {
      offset = mean;
      divisor = Array.from(squares, (s) => (s > 0 ? Math.sqrt(s / n) : 1));
    } else {
      offset = Array.from(min);
      divisor = Array.from(max, (m, j) => (m > min[j]! ? m - min[j]! : 1));
    }
  }
  return arrayEncoding({
    kind: 'arrays',
    version: 1,
    statisticsFrom: 'train split',
    sampleShape: x.shape.slice(1),
    scale: options.scale,
    ...(offset ? { offset, divisor } : {}),
    task: options.task,
    ...(options.classNames ? { classNames: [...options.classNames] } : {}),
    ...(options.oneHot ? { oneHot: true } : {}),
    ...(options.task === 'regression' && options.targetSize !== undefined ? { targetSize: options.targetSize } : {}),
  });
}

function arrayEncoding(record: ArrayEncodingRecord): ArrayEncoding {
  const size = record.sampleShape.reduce((a, b) => a * b, 1);
  return {
    kind: 'arrays',
    featureCount: size,
    inputShape: record.sampleShape,
    task: record.task,
    classNames: record.classNames,
    toJSON: () => record,
    apply(data, rows) {
      const n = rowCount(data.x);
      const picked = rows ?? Int32Array.from({ length: n }, (_, i) => i);
      const shape = data.x.shape.slice(1);
      if (shape.length !== record.sampleShape.length || shape.some((d, i) => d !== record.sampleShape[i])) {
        throw new FitstreamInputError('data', `x has samples of shape [${shape.join(', ')}]; the model was trained on [${record.sampleShape.join(', ')}].`);
      }
      const x = gather(data.x, picked);
      if (record.offset && record.divisor) for (let i = 0; i < x.length; i++) x[i] = (x[i]! - record.offset[i % size]!) / record.divisor[i % size]!;
      // Targets and weights are checked before the first tensor is made.
      let classes: Int32Array | undefined;
      let values: Float32Array | undefined;
      if (data.y !== undefined) {
        if (rowCount(data.y) !== n) throw new FitstreamInputError('data', `y has ${rowCount(data.y)} rows but x has ${n}; give one target per sample.`);
        if (record.task === 'classification') {
          const all = classLabels(data.y, record.oneHot === true, record.classNames ?? []);
          classes = Int32Array.from(picked, (r) => all[r]!);
        } else values = gather(data.y, picked);
      }
      let weights: Float32Array | undefined;
      if (data.sampleWeight !== undefined) {
        if (data.sampleWeight.data.length !== n) throw new FitstreamInputError('data', `sample_weight has ${data.sampleWeight.data.length} values but x has ${n} rows; give one weight per sample.`);
        weights = gather({ ...data.sampleWeight, shape: [n] }, picked);
        const bad = weights.findIndex((w) => !(w >= 0) || !Number.isFinite(w));
        if (bad >= 0) throw new FitstreamInputError('data', `sample_weight: row ${picked[bad]! + 1}: ${weights[bad]} must be a finite number ≥ 0.`);
      }
      const yShape = data.y === undefined ? [] : data.y.shape.length === 1 ? [1] : data.y.shape.slice(1);
      return {
        x: tf.tensor(x, [picked.length, ...record.sampleShape]),
        y: classes ? tf.tensor1d(classes, 'int32') : values ? tf.tensor(values, [picked.length, ...yShape]) : undefined,
        sampleWeight: weights ? tf.tensor1d(weights) : undefined,
      };
    },
  };
}

/**
 * The encoding of an image folder (nothing is fitted: pixels are already in [0, 1]).
 *
 * @example
 * ```ts
 * const encoding = imageEncoding({ kind: 'images', version: 1, size: [28, 28], channels: 1, task: 'classification', classNames: ['circle', 'square'] });
 * const x = await encoding.applyFiles(['new/1.png']);
 * ```
 */
export function imageEncoding(record: ImageEncodingRecord): ImageEncoding {
  const options: ImageOptions = { size: record.size, channels: record.channels };
  const [h, w] = record.size;
  return {
    kind: 'images',
    featureCount: h * w * record.channels,
    inputShape: [h, w, record.channels],
    task: 'classification',
    classNames: record.classNames,
    toJSON: () => record,
    async applyFiles(files) {
      const size = h * w * record.channels;
      const pixels = new Float32Array(files.length * size);
      for (const [i, file] of files.entries()) pixels.set(await readImage(file, options), i * size);
      return tf.tensor4d(pixels, [files.length, h, w, record.channels]);
    },
  };
}

/** Rebuilds an array encoding from its record. */
export function restoreArrayEncoding(record: ArrayEncodingRecord): ArrayEncoding {
  return arrayEncoding(record);
}
