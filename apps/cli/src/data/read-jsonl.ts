import { readFile } from 'node:fs/promises';
import { FitstreamInputError } from '@fitstream/core';
import { DEFAULT_MISSING } from './spec.js';
import { createTable, type Cell, type Table } from './table.js';

/** Options of {@link readJsonLines} and {@link readJsonRows}. */
export interface JsonRowsOptions {
  /** String values that are missing values (default `''`, `NA`, `NaN`, `null`); JSON `null` always is. */
  readonly missing?: readonly string[] | undefined;
}

type Row = Readonly<Record<string, unknown>>;

async function text(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new FitstreamInputError('data.path', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Objects → a table: the columns are every key, in order of first appearance; a missing key or `null` is a missing
 * value; booleans are 1/0; a column mixing numbers and strings keeps strings. `where(i)` names object `i` in messages.
 */
function rowsToTable(path: string, rows: readonly Row[], missing: ReadonlySet<string>, where: (i: number) => string): Table {
  const names: string[] = [];
  const index = new Map<string, number>();
  rows.forEach((row) => {
    for (const key of Object.keys(row)) {
      if (!index.has(key)) {
        index.set(key, names.length);
        names.push(key);
      }
    }
  });
  const columns = names.map(() => new Array<Cell>(rows.length).fill(null));
  rows.forEach((row, i) => {
    for (const [key, value] of Object.entries(row)) {
      let cell: Cell;
      if (value === null || value === undefined) cell = null;
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) throw new FitstreamInputError('data.path', `${path}: ${where(i)}, key ${JSON.stringify(key)}: ${value} is not a finite number.`);
        cell = value;
      } else if (typeof value === 'boolean') cell = value ? 1 : 0;
      else if (typeof value === 'string') cell = missing.has(value.trim()) ? null : value;
      else throw new FitstreamInputError('data.path', `${path}: ${where(i)}, key ${JSON.stringify(key)}: a nested ${Array.isArray(value) ? 'array' : 'object'} is not a column value; flatten it into one key per value.`);
      columns[index.get(key)!]![i] = cell;
    }
  });
  const typed = columns.map((values) => (values.every((v) => v === null || typeof v === 'number') ? values : values.map((v) => (v === null ? null : String(v)))));
  return createTable(path, names, typed);
}

function asRow(path: string, value: unknown, where: string): Row {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FitstreamInputError('data.path', `${path}: ${where} is ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}, not an object; write one object per row, e.g. {"x": 1.5, "label": "a"}.`);
  }
  return value as Row;
}

/**
 * Reads a JSON Lines file (one object per line; blank lines are skipped) into a {@link Table}. A line that is not
 * a JSON object is an error naming its line number.
 *
 * @example
 * ```ts
 * const table = await readJsonLines('rows.jsonl'); // {"x": 1, "label": "a"}\n{"x": 2}\n → label missing in row 2
 * ```
 */
export async function readJsonLines(path: string, options: JsonRowsOptions = {}): Promise<Table> {
  const lines = (await text(path)).replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: Row[] = [];
  const lineOf: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new FitstreamInputError('data.path', `${path}: line ${i + 1} is not valid JSON (${(error as Error).message}); each line must be one JSON object.`);
    }
    rows.push(asRow(path, value, `line ${i + 1}`));
    lineOf.push(i + 1);
  });
  if (rows.length === 0) throw new FitstreamInputError('data.path', `${path} has no rows; write one JSON object per line.`);
  return rowsToTable(path, rows, new Set(options.missing ?? DEFAULT_MISSING), (i) => `line ${lineOf[i]!}`);
}

/**
 * Reads a JSON file holding an array of row objects into a {@link Table}.
 *
 * @example
 * ```ts
 * const table = await readJsonRows('rows.json'); // [{"x": 1, "label": "a"}, {"x": 2, "label": "b"}]
 * ```
 */
export async function readJsonRows(path: string, options: JsonRowsOptions = {}): Promise<Table> {
  let value: unknown;
  try {
    value = JSON.parse((await text(path)).replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new FitstreamInputError('data.path', `${path} is not valid JSON: ${(error as Error).message}.`);
  }
  if (!Array.isArray(value)) throw new FitstreamInputError('data.path', `${path} must hold an array of row objects ([{"x": 1, "label": "a"}, …]); for one object per line use a .jsonl file.`);
  if (value.length === 0) throw new FitstreamInputError('data.path', `${path} holds an empty array; it needs at least one row.`);
  const rows = value.map((v, i) => asRow(path, v, `row ${i + 1}`));
  return rowsToTable(path, rows, new Set(options.missing ?? DEFAULT_MISSING), (i) => `row ${i + 1}`);
}
