import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ConfigError } from '../config/resolve.js';

/** Rows read from a CSV or JSON file: features, and targets when the file has a target column. */
export interface InputRows {
  readonly features: number[][];
  readonly targets: number[] | undefined;
}

interface Layout {
  readonly featureNames: readonly string[];
  readonly featureCount: number;
  readonly targetName: string;
  /** Class names: a target may be given by name (`setosa`). */
  readonly classNames: readonly string[];
}

const TARGET_ALIASES = ['label', 'target', 'y', 'class'];

function number(cell: unknown, where: string, layout: Layout, isTarget: boolean): number {
  if (typeof cell === 'number') return cell;
  const text = String(cell).trim();
  if (isTarget) {
    const index = layout.classNames.indexOf(text);
    if (index >= 0) return index;
  }
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) {
    throw new ConfigError(`${where}: ${JSON.stringify(cell)} is not a number${isTarget && layout.classNames.length ? ` or a class name (${layout.classNames.join(', ')})` : ''}.`);
  }
  return n;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    }
    else cell += c;
  }
  cells.push(cell);
  return cells.map((s) => s.trim());
}

/** Maps header names to feature/target columns (case-insensitive); unknown columns are an error naming the allowed ones. */
function columnsOf(header: readonly string[], layout: Layout, file: string): { features: number[]; target: number | undefined } {
  const lower = header.map((h) => h.toLowerCase());
  const target = [layout.targetName, ...TARGET_ALIASES].map((n) => lower.indexOf(n.toLowerCase())).find((i) => i >= 0);
  if (layout.featureNames.length !== layout.featureCount || header.length - (target === undefined ? 0 : 1) === layout.featureCount && layout.featureNames.every((f) => !lower.includes(f.toLowerCase()))) {
    // Positional (e.g. 784 pixel columns with any names): every column but the target, in order.
    const features = header.map((_, i) => i).filter((i) => i !== target);
    if (features.length !== layout.featureCount) throw new ConfigError(`${file}: expected ${layout.featureCount} feature columns, found ${features.length}.`);
    return { features, target };
  }
  const features = layout.featureNames.map((f) => {
    const i = lower.indexOf(f.toLowerCase());
    if (i < 0) throw new ConfigError(`${file}: no column "${f}". Columns needed: ${layout.featureNames.join(', ')} (and optionally ${layout.targetName}); found: ${header.join(', ')}.`);
    return i;
  });
  return { features, target };
}

/** Reads rows for `predict` / `evaluate --data`: CSV (with or without a header) or JSON (arrays or objects). */
export async function readRows(file: string, layout: Layout): Promise<InputRows> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const features: number[][] = [];
  const targets: number[] = [];
  if (extname(file).toLowerCase() === '.json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
    const rows = Array.isArray(value) ? value : (value as { rows?: unknown })?.rows;
    if (!Array.isArray(rows) || rows.length === 0) throw new ConfigError(`${file}: expected a non-empty array of rows (arrays of numbers, or objects keyed by ${layout.featureNames.slice(0, 4).join(', ')}…).`);
    rows.forEach((row: unknown, r) => {
      const where = `${file} row ${r + 1}`;
      if (Array.isArray(row)) {
        if (row.length !== layout.featureCount && row.length !== layout.featureCount + 1) throw new ConfigError(`${where}: has ${row.length} values; expected ${layout.featureCount} features (optionally followed by the ${layout.targetName}).`);
        features.push(row.slice(0, layout.featureCount).map((v, i) => number(v, `${where} value ${i + 1}`, layout, false)));
        if (row.length > layout.featureCount) targets.push(number(row[layout.featureCount], `${where} target`, layout, true));
      } else if (row && typeof row === 'object') {
        const o = row as Record<string, unknown>;
        const keys = Object.keys(o);
        const { features: cols, target } = columnsOf(keys, layout, where);
        features.push(cols.map((i) => number(o[keys[i]!], `${where} ${keys[i]}`, layout, false)));
        if (target !== undefined) targets.push(number(o[keys[target]!], `${where} ${keys[target]}`, layout, true));
      } else throw new ConfigError(`${where}: expected an array of numbers or an object, got ${JSON.stringify(row)}.`);
    });
  } else {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length === 0) throw new ConfigError(`${file} is empty.`);
    const first = splitCsvLine(lines[0]!);
    const isNumber = (c: string) => c !== '' && Number.isFinite(Number(c));
    // With named features, a line that holds numbers is a row (a bad cell in it is reported as such), not a header.
    const named = layout.featureNames.length === layout.featureCount;
    const hasHeader = first.some((c) => c !== '' && !isNumber(c) && !layout.classNames.includes(c)) && !(named && first.some(isNumber));
    if (hasHeader && lines.length === 1) throw new ConfigError(`${file}: has a header line (${first.join(', ')}) and no rows; add one row of features per line below it.`);
    const columns = hasHeader
      ? columnsOf(first, layout, file)
      : first.length === layout.featureCount
        ? { features: first.map((_, i) => i), target: undefined }
        : first.length === layout.featureCount + 1
          ? { features: first.slice(0, -1).map((_, i) => i), target: layout.featureCount }
          : (() => {
              throw new ConfigError(`${file}: rows have ${first.length} columns; expected ${layout.featureCount} features (${layout.featureNames.slice(0, 13).join(', ')}${layout.featureCount > 13 ? ', …' : ''}), optionally followed by the ${layout.targetName}.`);
            })();
    lines.slice(hasHeader ? 1 : 0).forEach((line, r) => {
      const cells = splitCsvLine(line);
      const where = `${file} line ${r + (hasHeader ? 2 : 1)}`;
      features.push(columns.features.map((i) => number(cells[i] ?? '', `${where} column ${i + 1}`, layout, false)));
      if (columns.target !== undefined) targets.push(number(cells[columns.target] ?? '', `${where} ${layout.targetName}`, layout, true));
    });
  }
  if (targets.length > 0 && targets.length !== features.length) throw new ConfigError(`${file}: some rows have a ${layout.targetName} and some do not.`);
  return { features, targets: targets.length > 0 ? targets : undefined };
}
