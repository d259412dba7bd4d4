import { readFile } from 'node:fs/promises';
import { FitstreamInputError } from '@fitstream/core';
import { parse, type CsvError, type Options } from 'csv-parse/sync';
import { DEFAULT_MISSING, DELIMITERS } from './spec.js';
import { createTable, typeColumns, type Table } from './table.js';

/** Options of {@link readCsv}. */
export interface CsvOptions {
  /** One of `,` `;` tab `|`; default: detected from the header record. */
  readonly delimiter?: string | undefined;
  /** Whether the first record names the columns (default true); without one they are `column_1 … column_k`. */
  readonly header?: boolean | undefined;
  /** Cell texts that are missing values (default `''`, `NA`, `NaN`, `null`). */
  readonly missing?: readonly string[] | undefined;
}

/** A CSV file as read: the table and the delimiter it used. */
export interface CsvTable {
  readonly table: Table;
  readonly delimiter: string;
}

// RFC 4180 parsing (quotes, escaped quotes, delimiters and newlines inside quotes, a BOM, CRLF) is csv-parse's; only
// the choice of delimiter and the typing of columns are ours.
const COMMON: Options = { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true };

/**
 * The delimiter of a CSV text: the candidate that splits its first record (parsed with quotes honoured, so a
 * delimiter inside quotes does not count) into the most fields; `,` when none splits it.
 *
 * @example
 * ```ts
 * detectDelimiter('"a; b",c;d\n1,2;3\n'); // ';' — "a; b",c and d
 * ```
 */
export function detectDelimiter(text: string): string {
  let best = { delimiter: ',', fields: 1 };
  for (const delimiter of DELIMITERS) {
    let fields = 0;
    try {
      fields = (parse(text, { ...COMMON, delimiter, to: 1 })[0] ?? []).length;
    } catch {
      continue; // The header does not parse with this delimiter (a quote in mid-field): not this one.
    }
    if (fields > best.fields) best = { delimiter, fields };
  }
  return best.delimiter;
}

function describeDelimiter(d: string): string {
  return d === '\t' ? 'tab' : JSON.stringify(d);
}

/**
 * Reads a CSV or TSV file into a {@link Table}: a header row (or `header: false`), the delimiter given or detected,
 * missing-value tokens as `null`, numeric columns as numbers. A record with another number of fields than the header is
 * an error naming its row and line.
 *
 * @example
 * ```ts
 * const { table, delimiter } = await readCsv('iris.csv');
 * table.get('petal width'); // [0.2, 0.2, …]
 * ```
 */
export async function readCsv(path: string, options: CsvOptions = {}): Promise<CsvTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FitstreamInputError('data.path', `cannot read ${path}: ${(error as Error).message}`);
  }
  const delimiter = options.delimiter ?? detectDelimiter(text);
  let records: string[][];
  try {
    records = parse(text, { ...COMMON, delimiter });
  } catch (error) {
    const e = error as CsvError;
    throw new FitstreamInputError('data.path', `${path} is not valid CSV with the delimiter ${describeDelimiter(delimiter)}: ${e.message}. Check the quotes on that line (a quote inside a quoted field is written twice: "").`);
  }
  const header = options.header ?? true;
  if (records.length === 0) throw new FitstreamInputError('data.path', `${path} is empty; it needs a header row and at least one data row.`);
  const first = records[0]!;
  const names = header ? first.map((n) => n.trim()) : first.map((_, i) => `column_${i + 1}`);
  if (header) {
    const blank = names.findIndex((n) => n === '');
    if (blank >= 0) throw new FitstreamInputError('data.header', `${path}: column ${blank + 1} of the header row has no name; name every column, or set data.header to false if the file has no header row.`);
  }
  const body = header ? records.slice(1) : records;
  if (body.length === 0) throw new FitstreamInputError('data.path', `${path} has a header row but no data rows.`);
  const ragged = body.findIndex((record) => record.length !== names.length);
  if (ragged >= 0) {
    // The line number costs csv-parse's per-record info (twice the parse time): asked for only on this error path.
    const withInfo = parse(text, { ...COMMON, delimiter, info: true, to: ragged + (header ? 2 : 1) }) as unknown as { info: { lines: number } }[];
    const line = withInfo[withInfo.length - 1]!.info.lines;
    throw new FitstreamInputError(
      'data.path',
      `${path}: row ${ragged + 1} (line ${line}) has ${body[ragged]!.length} fields but the ${header ? 'header' : 'first row'} has ${names.length} (delimiter ${describeDelimiter(delimiter)}). ` +
        'Quote fields that contain the delimiter, or set data.delimiter.',
    );
  }
  const cells = names.map((_, c) => body.map((record) => record[c]!));
  const missing = new Set(options.missing ?? DEFAULT_MISSING);
  return { table: createTable(path, names, typeColumns(cells, missing)), delimiter };
}
