import { FitstreamInputError } from '@fitstream/core';

/** A series: one value per step (`ArrayLike<number>`), or one row of feature values per step (`ArrayLike<number>[]`). */
export type SeriesData = ArrayLike<number> | readonly ArrayLike<number>[];

/** A series as a dense row-major matrix `[length, dims]`. */
export interface SeriesMatrix {
  readonly length: number;
  readonly dims: number;
  readonly values: Float64Array;
}

function isRows(data: SeriesData): data is readonly ArrayLike<number>[] {
  return data.length > 0 && typeof (data as ArrayLike<unknown>)[0] === 'object' && (data as ArrayLike<unknown>)[0] !== null;
}

/** Reads a series into a matrix, checking that every row has the same width and every value is finite. */
export function toMatrix(data: SeriesData, argument: string): SeriesMatrix {
  if (data == null || typeof data.length !== 'number') throw new FitstreamInputError(argument, 'must be an array of numbers or an array of rows.');
  if (!isRows(data)) {
    const values = Float64Array.from(data as ArrayLike<number>);
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new FitstreamInputError(argument, `value ${i} is ${String(v)}; pass finite numbers.`);
    });
    return { length: values.length, dims: 1, values };
  }
  const dims = data[0]!.length;
  if (dims < 1) throw new FitstreamInputError(`${argument}[0]`, 'is an empty row.');
  const values = new Float64Array(data.length * dims);
  for (let t = 0; t < data.length; t++) {
    const row = data[t]!;
    if (row.length !== dims) throw new FitstreamInputError(`${argument}[${t}]`, `has ${row.length} values; every row needs ${dims}.`);
    for (let c = 0; c < dims; c++) {
      const v = row[c]!;
      if (!Number.isFinite(v)) throw new FitstreamInputError(`${argument}[${t}][${c}]`, `is ${String(v)}; pass finite numbers.`);
      values[t * dims + c] = v;
    }
  }
  return { length: data.length, dims, values };
}

/** Column `c` of a matrix. */
export function column(m: SeriesMatrix, c: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let t = 0; t < m.length; t++) out[t] = m.values[t * m.dims + c]!;
  return out;
}

/** Which columns of a (multivariate) series the model reads and which it predicts. */
export interface SeriesColumnOptions {
  /** Feature columns fed as inputs (default all). */
  readonly inputColumns?: readonly number[];
  /** Columns predicted (default `[0]`). */
  readonly targetColumns?: readonly number[];
}

/** The input and target columns with their defaults (every column in, the first one out), checked against `dims`. */
export function seriesColumns(options: SeriesColumnOptions, dims: number): { readonly inputColumns: readonly number[]; readonly targetColumns: readonly number[] } {
  const inputColumns = options.inputColumns ?? Array.from({ length: dims }, (_, c) => c);
  const targetColumns = options.targetColumns ?? [0];
  checkColumns(inputColumns, dims, 'options.inputColumns');
  checkColumns(targetColumns, dims, 'options.targetColumns');
  return { inputColumns, targetColumns };
}

/** Checks column indices against a width. */
function checkColumns(columns: readonly number[], dims: number, argument: string): void {
  if (!Array.isArray(columns) || columns.length === 0) throw new FitstreamInputError(argument, 'must be a non-empty array of column indices.');
  for (const c of columns) {
    if (!Number.isInteger(c) || c < 0 || c >= dims) throw new FitstreamInputError(argument, `column ${String(c)} is outside [0, ${dims}).`);
  }
}
