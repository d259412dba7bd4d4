import { FitstreamInputError } from '@fitstream/core';

/** One value of a table: a number, a string, or `null` for a missing value. */
export type Cell = string | number | null;

/** What a column holds: numbers only (missing values aside), or strings. */
export type ColumnKind = 'number' | 'string';

/**
 * Columnar rows read from the user's file (CSV, TSV, JSON Lines, JSON, a 2-D `.npy`). Row numbers in messages are
 * 1-based data rows (the first row after a header is row 1), kept when rows are selected.
 */
export interface Table {
  /** The file the rows came from, for messages. */
  readonly source: string;
  readonly columns: readonly string[];
  readonly rows: number;
  /** A column's values, one per row (`null` where missing); unknown names throw naming the columns there are. */
  get(column: string): readonly Cell[];
  /** Whether a column is numeric (every value present is a number) or holds strings. */
  kind(column: string): ColumnKind;
  /** The 1-based number in the source file of row `index` (rows keep their numbers when some are selected). */
  rowNumber(index: number): number;
}

/** The element types a `.npy` array may have (little-endian, C order). */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

/** An n-dimensional array as read from a `.npy` file or a module: values in row-major (C) order. */
export interface NdArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** int64 values arrive as a Float64Array (exact up to 2^53; larger ones are refused); bool as Uint8Array. */
  readonly data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/**
 * Array data (an `.npz` archive, a module): inputs `x` (`[samples, …]`), targets `y` and optional per-sample weights,
 * and, when the source split them itself, a validation part.
 */
export interface ArrayData {
  readonly kind: 'arrays';
  readonly source: string;
  readonly x: NdArray;
  readonly y: NdArray;
  readonly sampleWeight?: NdArray | undefined;
  /** A validation part the source gave (a module's `{ train, validation }`); no split is drawn then. */
  readonly validation?: { readonly x: NdArray; readonly y: NdArray; readonly sampleWeight?: NdArray | undefined } | undefined;
}

/**
 * A {@link Table} over column arrays. The column kinds are computed once (a column is numeric when every present value
 * is a number) unless `keep.kinds` gives them; `keep.rowNumbers` gives each row's number in the source file.
 *
 * @example
 * ```ts
 * const table = createTable('rows.csv', ['x', 'label'], [[1, 2, null], ['a', 'b', 'a']]);
 * table.kind('x'); // 'number'
 * table.get('label'); // ['a', 'b', 'a']
 * ```
 */
export function createTable(source: string, columns: readonly string[], values: readonly (readonly Cell[])[], keep: { readonly rowNumbers?: readonly number[]; readonly kinds?: readonly ColumnKind[] } = {}): Table {
  const { rowNumbers, kinds } = keep;
  if (values.length !== columns.length) throw new Error(`createTable: ${columns.length} column names but ${values.length} columns of values`);
  const rows = values[0]?.length ?? 0;
  const byName = new Map<string, { values: readonly Cell[]; kind: ColumnKind }>();
  columns.forEach((name, i) => {
    const column = values[i]!;
    if (column.length !== rows) throw new Error(`createTable: column "${name}" has ${column.length} values, the first has ${rows}`);
    if (byName.has(name)) throw new FitstreamInputError('data.path', `${source}: the column name "${name}" appears twice; rename one of them.`);
    byName.set(name, { values: column, kind: kinds?.[i] ?? (column.every((v) => v === null || typeof v === 'number') ? 'number' : 'string') });
  });
  const column = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new FitstreamInputError('data.columns', `${source} has no column ${JSON.stringify(name)}. Columns: ${columns.map((c) => JSON.stringify(c)).join(', ')}.`);
    return found;
  };
  return {
    source,
    columns: [...columns],
    rows,
    get: (name) => column(name).values,
    kind: (name) => column(name).kind,
    rowNumber: (index) => (rowNumbers ? rowNumbers[index]! : index + 1),
  };
}

/** A table holding only the given rows, in the given order; the rows keep their numbers and the columns their kinds. */
export function selectRows(table: Table, rows: ArrayLike<number>): Table {
  const pick = (values: readonly Cell[]) => Array.from(rows, (r) => values[r]!);
  const numbers = Array.from(rows, (r) => table.rowNumber(r));
  return createTable(table.source, table.columns, table.columns.map((c) => pick(table.get(c))), { rowNumbers: numbers, kinds: table.columns.map((c) => table.kind(c)) });
}

/** How many elements one sample of an array has (the product of its trailing dimensions). */
export function sampleSize(array: NdArray): number {
  return array.shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * Numbers written in decimal: what a CSV cell must look like to be a number (no hex, no `Infinity`, no blanks —
 * `Number()` accepts all of those).
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Text cells → typed columns: `missing` tokens (compared after trimming) become `null`, and a column whose every other
 * value is a decimal number becomes numeric; any other column keeps its strings.
 *
 * @example
 * ```ts
 * typeColumns([['1', 'NA', '3'], ['a', '2', '']], new Set(['', 'NA'])); // [[1, null, 3], ['a', '2', null]]
 * ```
 */
export function typeColumns(columns: readonly (readonly string[])[], missing: ReadonlySet<string>): Cell[][] {
  return columns.map((cells) => {
    const typed = new Array<Cell>(cells.length);
    let numeric = true;
    for (let i = 0; i < cells.length; i++) {
      const text = cells[i]!.trim();
      if (missing.has(text)) typed[i] = null;
      else {
        typed[i] = cells[i]!;
        if (numeric && !DECIMAL.test(text)) numeric = false;
      }
    }
    if (numeric) for (let i = 0; i < typed.length; i++) if (typed[i] !== null) typed[i] = Number((typed[i] as string).trim());
    return typed;
  });
}
