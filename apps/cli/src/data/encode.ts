import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { checkColumn, type ColumnRoles, type Task } from './roles.js';
import type { Cell, Table } from './table.js';

/** How numeric features are scaled: `(v − offset) / divisor`, statistics from the training split. */
export type Scaling = 'standard' | 'minmax' | 'none';
/** What happens to missing values. */
export type MissingPolicy = 'error' | 'drop-rows' | 'mean' | 'median' | 'most-frequent';

/** One feature column's fitted encoding. */
export type FeatureEncoding =
  | {
      readonly column: string;
      readonly kind: 'numeric';
      /** The value a missing cell takes (imputation), or `null`: missing is an error or drops the row. */
      readonly fill: number | null;
      readonly offset: number;
      readonly divisor: number;
    }
  | {
      readonly column: string;
      readonly kind: 'categorical';
      readonly fill: string | null;
      /** One-hot positions, sorted; learned on the training split. */
      readonly categories: readonly string[];
    };

/** The target's encoding: class names (index = position) for classification, the columns for regression. */
export interface TargetEncoding {
  readonly columns: readonly string[];
  readonly task: Task;
  readonly classNames?: readonly string[] | undefined;
}

/** A fitted table encoding as `data.json` records it (`preprocessing`); {@link restoreEncoding} rebuilds it. */
export interface TableEncodingRecord {
  readonly kind: 'table';
  readonly version: 1;
  readonly statisticsFrom: 'train split';
  readonly scale: Scaling;
  readonly onMissing: MissingPolicy;
  readonly strict: boolean;
  readonly features: readonly FeatureEncoding[];
  /** The model's input columns after one-hot encoding, e.g. `color=red`. */
  readonly featureNames: readonly string[];
  readonly target: TargetEncoding;
  readonly weights?: string | undefined;
}

/** Rows encoded for the model. Tensors are the caller's to dispose. */
export interface EncodedRows {
  readonly x: tf.Tensor2D;
  /** Targets when the rows have the target column(s): class indices (int32 `[n]`) or values (float32 `[n, k]`). */
  readonly y?: tf.Tensor | undefined;
  readonly sampleWeight?: tf.Tensor1D | undefined;
  /** Indices (into the table passed) of the rows encoded: all of them unless `drop-rows` dropped some. */
  readonly rows: Int32Array;
  /** One line per problem that did not stop the encoding (unseen categories, dropped rows). */
  readonly warnings: readonly string[];
}

/** A fitted encoding of table rows: raw rows (as read from a file) → model inputs and targets. */
export interface TableEncoding {
  readonly kind: 'table';
  readonly featureNames: readonly string[];
  readonly featureCount: number;
  readonly task: Task;
  readonly classNames?: readonly string[] | undefined;
  /** Encodes rows of a table with these columns (the target may be absent: `predict`). */
  apply(table: Table): EncodedRows;
  /** JSON-serialisable; {@link restoreEncoding} rebuilds an equal encoding. */
  toJSON(): TableEncodingRecord;
}

/** Options of {@link fitTableEncoding}. */
export interface TableEncodingOptions {
  readonly task: Task;
  /** Class names, index order (from {@link classNamesOf}); required for classification. */
  readonly classNames?: readonly string[] | undefined;
  /** Columns one-hot encoded besides the string columns. */
  readonly categorical?: readonly string[] | undefined;
  readonly scale: Scaling;
  readonly onMissing: MissingPolicy;
  readonly strict: boolean;
}

/** At most this many places are listed in a message about missing values or unseen categories. */
export const LISTED_PLACES = 10;

/** A `(row, column)` place in a table, as messages name it. */
export interface Place {
  readonly row: number;
  readonly column: string;
  /** The value there, when the message is about a value (an unseen category). */
  readonly value?: string;
}

const key = (v: Cell): string => String(v);

/** `row 3, column "petal width"; …` in row order — at most {@link LISTED_PLACES}, then how many more. */
export function formatPlaces(places: readonly Place[]): string {
  const shown = [...places].sort((a, b) => a.row - b.row).slice(0, LISTED_PLACES).map((p) => `row ${p.row}, column ${JSON.stringify(p.column)}${p.value === undefined ? '' : ` (${JSON.stringify(p.value)})`}`);
  const more = places.length > LISTED_PLACES ? `; … and ${places.length - LISTED_PLACES} more` : '';
  return `${shown.join('; ')}${more}`;
}

/**
 * The places where `columns` have missing values (rows numbered as in the source file), row by row.
 *
 * @example
 * ```ts
 * findMissing(table, ['petal width']); // [{ row: 3, column: 'petal width' }]
 * ```
 */
export function findMissing(table: Table, columns: readonly string[]): { places: Place[]; rows: Set<number> } {
  const values = columns.map((c) => table.get(c));
  const places: Place[] = [];
  const rows = new Set<number>();
  for (let i = 0; i < table.rows; i++) {
    values.forEach((column, c) => {
      if (column[i] === null) {
        places.push({ row: table.rowNumber(i), column: columns[c]! });
        rows.add(i);
      }
    });
  }
  return { places, rows };
}

/**
 * The error for missing values: where they are (the first ten), how many, and the fix.
 *
 * @example
 * ```ts
 * throw missingError('iris.csv', findMissing(table, ['petal width']).places, 'Fill them in.');
 * // data.onMissing: iris.csv has 1 missing value (rows counted from 1 after the header): row 3, column "petal width". Fill them in.
 * ```
 */
export function missingError(source: string, places: readonly Place[], fix: string, counting = 'rows counted from 1 after the header'): FitstreamInputError {
  const count = places.length;
  return new FitstreamInputError('data.onMissing', `${source} has ${count} missing value${count === 1 ? '' : 's'} (${counting}): ${formatPlaces(places)}. ${fix}`);
}

/**
 * The class names of a classification target, sorted (numbers numerically, strings by code point): class index =
 * position. Missing values are skipped.
 *
 * @example
 * ```ts
 * classNamesOf(table, 'species'); // ['setosa', 'versicolor', 'virginica']
 * ```
 */
export function classNamesOf(table: Table, column: string): string[] {
  const present = table.get(column).filter((v): v is string | number => v !== null);
  if (table.kind(column) === 'number') return [...new Set(present as number[])].sort((a, b) => a - b).map(String);
  return [...new Set(present.map(String))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** The most frequent value; ties go to the smallest (numbers) or first in code-point order (strings), so it is stable. */
function mostFrequent<T extends string | number>(values: readonly T[]): T | null {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: T | null = null;
  let bestCount = 0;
  for (const [v, c] of counts) if (c > bestCount || (c === bestCount && best !== null && v < best)) [best, bestCount] = [v, c];
  return best;
}

function fitNumeric(column: string, values: readonly Cell[], options: TableEncodingOptions): FeatureEncoding {
  const present = values.filter((v): v is number => v !== null) as number[];
  let fill: number | null = null;
  if (options.onMissing === 'mean' || options.onMissing === 'median' || options.onMissing === 'most-frequent') {
    if (present.length === 0) throw new FitstreamInputError('data.onMissing', `column ${JSON.stringify(column)} has no values in the training split to impute from; drop the column (data.columns.features).`);
    if (options.onMissing === 'mean') fill = present.reduce((a, b) => a + b, 0) / present.length;
    else if (options.onMissing === 'median') fill = median(Float64Array.from(present).sort());
    else fill = mostFrequent(present);
  }
  // Imputation, then scaling (scikit-learn's pipeline order): the statistics see the imputed training values.
  const filled = fill === null ? present : values.map((v) => (v === null ? fill : (v as number)));
  let offset = 0;
  let divisor = 1;
  if (options.scale === 'standard' && filled.length > 0) {
    offset = filled.reduce((a, b) => a + b, 0) / filled.length;
    const variance = filled.reduce((a, b) => a + (b - offset) ** 2, 0) / filled.length;
    divisor = variance > 0 ? Math.sqrt(variance) : 1;
  } else if (options.scale === 'minmax' && filled.length > 0) {
    let [min, max] = [Infinity, -Infinity];
    for (const v of filled) [min, max] = [Math.min(min, v), Math.max(max, v)];
    offset = min;
    divisor = max > min ? max - min : 1;
  }
  return { column, kind: 'numeric', fill, offset, divisor };
}

function fitCategorical(column: string, values: readonly Cell[], options: TableEncodingOptions): FeatureEncoding {
  const present = values.filter((v) => v !== null).map(key);
  const categories = [...new Set(present)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (categories.length === 0) throw new FitstreamInputError('data.columns.features', `column ${JSON.stringify(column)} has no values in the training split; drop it from the features.`);
  // A categorical column has no mean or median: every imputation takes its most frequent category.
  const fill = options.onMissing === 'mean' || options.onMissing === 'median' || options.onMissing === 'most-frequent' ? mostFrequent(present) : null;
  return { column, kind: 'categorical', fill, categories };
}

/**
 * Fits the encoding of `roles.features` on the training rows of `table` only: one-hot categories of string (and
 * `categorical`) columns, scaling statistics and imputed values. Column kinds come from the whole table.
 *
 * @example
 * ```ts
 * const encoding = fitTableEncoding(table, split.train, roles, { task: 'classification', classNames, scale: 'standard', onMissing: 'error', strict: false });
 * const { x, y } = encoding.apply(selectRows(table, split.test));
 * ```
 */
export function fitTableEncoding(table: Table, trainRows: ArrayLike<number>, roles: ColumnRoles, options: TableEncodingOptions): TableEncoding {
  const categorical = new Set(options.categorical ?? []);
  for (const c of categorical) if (!roles.features.includes(c)) throw new FitstreamInputError('data.categorical', `names ${JSON.stringify(c)}, which is not a feature column. Features: ${roles.features.map((f) => JSON.stringify(f)).join(', ')}.`);
  if (options.task === 'classification' && (options.classNames === undefined || options.classNames.length < 2)) {
    throw new FitstreamInputError('data.columns.target', `column ${JSON.stringify(roles.target[0])} has ${options.classNames?.length ?? 0} class${options.classNames?.length === 1 ? '' : 'es'}; classification needs at least 2.`);
  }
  if (options.task === 'regression') {
    for (const t of roles.target) if (table.kind(t) === 'string') throw new FitstreamInputError('data.task', `is regression, but the target column ${JSON.stringify(t)} holds text; set data.task to classification or pick a numeric target.`);
  }
  const features = roles.features.map((column) => {
    const values = Array.from(trainRows, (r) => table.get(column)[r]!);
    return table.kind(column) === 'string' || categorical.has(column) ? fitCategorical(column, values, options) : fitNumeric(column, values, options);
  });
  return tableEncoding({
    kind: 'table',
    version: 1,
    statisticsFrom: 'train split',
    scale: options.scale,
    onMissing: options.onMissing,
    strict: options.strict,
    features,
    featureNames: features.flatMap((f) => (f.kind === 'numeric' ? [f.column] : f.categories.map((c) => `${f.column}=${c}`))),
    target: { columns: [...roles.target], task: options.task, ...(options.task === 'classification' ? { classNames: [...options.classNames!] } : {}) },
    weights: roles.weights,
  });
}

function numberAt(table: Table, column: string, i: number, value: Cell): number {
  if (typeof value === 'number') return value;
  throw new FitstreamInputError('data', `${table.source}: row ${table.rowNumber(i)}, column ${JSON.stringify(column)}: ${JSON.stringify(value)} is not a number (the training data had numbers there).`);
}

/** Builds the encoding a record describes. */
function tableEncoding(record: TableEncodingRecord): TableEncoding {
  const width = record.featureNames.length;
  const classIndex = new Map((record.target.classNames ?? []).map((name, i) => [name, i]));
  return {
    kind: 'table',
    featureNames: record.featureNames,
    featureCount: width,
    task: record.target.task,
    classNames: record.target.classNames,
    toJSON: () => record,
    apply(table: Table): EncodedRows {
      for (const f of record.features) checkColumn(table, f.column, 'data');
      const hasTarget = record.target.columns.every((c) => table.columns.includes(c));
      const hasWeights = record.weights !== undefined && table.columns.includes(record.weights);
      const warnings: string[] = [];

      // Missing values without a fill: an error listing them, or (drop-rows) their rows go.
      const unfilled = record.features.filter((f) => f.fill === null).map((f) => f.column);
      const required = [...unfilled, ...(hasTarget ? record.target.columns : []), ...(hasWeights ? [record.weights!] : [])];
      const missing = findMissing(table, required);
      if (missing.places.length > 0 && record.onMissing !== 'drop-rows') {
        const targets = missing.places.filter((p) => !unfilled.includes(p.column));
        throw missingError(table.source, missing.places, targets.length > 0 && record.onMissing !== 'error'
          ? 'Imputation fills features only: remove the rows without a target or weight, or set data.onMissing to drop-rows.'
          : 'Fill them in, or set data.onMissing to drop-rows, mean, median or most-frequent.');
      }
      const kept: number[] = [];
      for (let i = 0; i < table.rows; i++) if (!missing.rows.has(i)) kept.push(i);
      if (missing.rows.size > 0) warnings.push(`dropped ${missing.rows.size} of ${table.rows} rows with missing values (data.onMissing = drop-rows): ${formatPlaces(missing.places)}`);
      if (kept.length === 0) throw new FitstreamInputError('data.onMissing', `${table.source}: every row has a missing value, so drop-rows leaves none. Fill them in or impute (mean, median, most-frequent).`);

      const n = kept.length;
      const x = new Float32Array(n * width);
      const unseen: Place[] = [];
      let offset = 0;
      for (const f of record.features) {
        const values = table.get(f.column);
        if (f.kind === 'numeric') {
          kept.forEach((i, r) => {
            const raw = values[i]!;
            const v = raw === null ? f.fill! : numberAt(table, f.column, i, raw);
            x[r * width + offset] = (v - f.offset) / f.divisor;
          });
          offset += 1;
        } else {
          const position = new Map(f.categories.map((c, j) => [c, j]));
          kept.forEach((i, r) => {
            const raw = values[i]!;
            const j = position.get(raw === null ? f.fill! : key(raw));
            if (j === undefined) unseen.push({ row: table.rowNumber(i), column: f.column, value: key(raw) });
            else x[r * width + offset + j] = 1;
          });
          offset += f.categories.length;
        }
      }
      if (unseen.length > 0) {
        const where = formatPlaces(unseen);
        if (record.strict) throw new FitstreamInputError('data.strict', `${table.source}: ${unseen.length} value${unseen.length === 1 ? ' is a category' : 's are categories'} the training split did not have: ${where}. Retrain with these categories, or set data.strict to false to encode them as all zeros.`);
        warnings.push(`${unseen.length} value${unseen.length === 1 ? ' is a category' : 's are categories'} the training split did not have, encoded as all zeros: ${where}`);
      }

      // Every value is checked before the first tensor is made: an error leaves nothing to dispose.
      let classes: Int32Array | undefined;
      let targets: Float32Array | undefined;
      const k = record.target.columns.length;
      if (hasTarget && record.target.task === 'classification') {
        const column = record.target.columns[0]!;
        const values = table.get(column);
        classes = Int32Array.from(kept, (i) => {
          const index = classIndex.get(key(values[i]!));
          if (index === undefined) throw new FitstreamInputError('data', `${table.source}: row ${table.rowNumber(i)}, column ${JSON.stringify(column)}: ${JSON.stringify(values[i])} is not one of the classes ${(record.target.classNames ?? []).map((c) => JSON.stringify(c)).join(', ')}.`);
          return index;
        });
      } else if (hasTarget) {
        const values = new Float32Array(n * k);
        record.target.columns.forEach((column, c) => {
          const cells = table.get(column);
          kept.forEach((i, r) => (values[r * k + c] = numberAt(table, column, i, cells[i]!)));
        });
        targets = values;
      }
      let weights: Float32Array | undefined;
      if (hasWeights) {
        const cells = table.get(record.weights!);
        weights = Float32Array.from(kept, (i) => {
          const w = numberAt(table, record.weights!, i, cells[i]!);
          if (!(w >= 0) || !Number.isFinite(w)) throw new FitstreamInputError('data.columns.weights', `${table.source}: row ${table.rowNumber(i)}: the weight ${w} must be a finite number ≥ 0.`);
          return w;
        });
      }
      const y = classes ? tf.tensor1d(classes, 'int32') : targets ? tf.tensor2d(targets, [n, k]) : undefined;
      const sampleWeight = weights ? tf.tensor1d(weights) : undefined;
      return { x: tf.tensor2d(x, [n, width]), y, sampleWeight, rows: Int32Array.from(kept), warnings };
    },
  };
}

/**
 * Rebuilds a table encoding from its record (`data.json`'s `preprocessing`), for `predict` and `evaluate --data`.
 *
 * @example
 * ```ts
 * const encoding = restoreTableEncoding(JSON.parse(await readFile('runs/x/data.json', 'utf8')).preprocessing);
 * const { x, warnings } = encoding.apply((await readCsv('new-rows.csv')).table);
 * ```
 */
export function restoreTableEncoding(record: TableEncodingRecord): TableEncoding {
  if (record.kind !== 'table' || record.version !== 1 || !Array.isArray(record.features)) {
    throw new Error(`data.json's preprocessing is not a fitstream table encoding (kind ${JSON.stringify(record.kind)}, version ${JSON.stringify(record.version)}); was the run written by another version?`);
  }
  return tableEncoding(record);
}
