import { FitstreamInputError } from '@fitstream/core';
import { trainTestSplit } from '@fitstream/samplers';
import type { Cell } from './table.js';

/** How the validation rows are chosen. */
export type SplitBy = 'random' | 'group' | 'time';

/** Options of {@link splitRows}. */
export interface SplitRowsOptions {
  /** Validation size: a fraction in (0, 1) or a count (of rows; of groups with `by: 'group'`). */
  readonly validation: number;
  readonly by: SplitBy;
  /** The run seed (random and group splits). */
  readonly seed: number;
  /** Class labels, one per row: stratifies a random split. */
  readonly stratify?: readonly (string | number)[] | undefined;
  /** One value per row (`by: 'group'`): each group lies wholly on one side. */
  readonly groups?: readonly Cell[] | undefined;
  /** One value per row (`by: 'time'`): numbers, or dates/times as text; the latest rows validate. */
  readonly time?: readonly Cell[] | undefined;
  /** For messages: the file, and the number in it of row `i` (default `i + 1`). */
  readonly source: string;
  readonly rowNumber?: ((index: number) => number) | undefined;
}

/** A drawn split: row indices of each side and how they were drawn, as `data.json` records it. */
export interface RowSplit {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly by: SplitBy;
  readonly stratified: boolean;
  readonly seed: number;
  /** Groups on the validation side (`by: 'group'`), or the first validation time (`by: 'time'`). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** Runs a samplers splitter, naming the data spec's keys instead of the splitter's options in its errors. */
function samplers<T>(split: () => T): T {
  try {
    return split();
  } catch (error) {
    if (!(error instanceof FitstreamInputError)) throw error;
    const argument = error.argument === 'options.stratify' ? 'data.split.stratify' : 'data.split.validation';
    throw new FitstreamInputError(argument, `${error.message.slice(error.argument.length + 2)} (from @fitstream/samplers' trainTestSplit, ${error.argument})`);
  }
}

function checkSize(validation: number, n: number, what: string): void {
  if (n < 2) throw new FitstreamInputError('data.path', `has ${n} ${what}; a training and a validation side need at least 2.`);
  if (validation >= 1 && validation >= n) throw new FitstreamInputError('data.split.validation', `is ${validation} ${what}, but there are only ${n}; pass a fraction in (0, 1) or a smaller count.`);
}

/** Time values → sortable numbers: numbers as they are, text through `Date.parse` (ISO 8601 dates and times). */
function timeKeys(time: readonly Cell[], source: string, rowNumber: (index: number) => number): Float64Array {
  return Float64Array.from(time, (v, i) => {
    if (typeof v === 'number') return v;
    const t = v === null ? NaN : Date.parse(v);
    if (Number.isNaN(t)) throw new FitstreamInputError('data.columns.time', `${source}: row ${rowNumber(i)}: ${JSON.stringify(v)} is not a number or a date (write dates as ISO 8601, e.g. 2024-03-01 or 2024-03-01T12:00:00Z).`);
    return t;
  });
}

/**
 * Splits rows into training and validation with @fitstream/samplers' seeded `trainTestSplit`: `random` (stratified
 * by `stratify` when given), `group` (the groups are split, so no group is on both sides — scikit-learn's
 * `GroupShuffleSplit`), or `time` (rows ordered by `time`; the latest validate, and rows with the boundary's time stay
 * together on the validation side).
 *
 * @example
 * ```ts
 * const { train, validation } = splitRows(150, { validation: 0.2, by: 'random', seed: 42, stratify: species, source: 'iris.csv' });
 * ```
 */
export function splitRows(n: number, options: SplitRowsOptions): RowSplit {
  const { validation, seed } = options;
  if (options.by === 'group') {
    if (options.groups === undefined) throw new FitstreamInputError('data.columns.groups', 'is required with data.split.by = group.');
    const keys = options.groups.map((g) => String(g));
    const distinct = [...new Set(keys)].sort();
    checkSize(validation, distinct.length, 'groups');
    const sides = samplers(() => trainTestSplit(distinct.length, { testSize: validation, seed }));
    const held = new Set(Array.from(sides.test, (g) => distinct[g]!));
    const train: number[] = [];
    const test: number[] = [];
    keys.forEach((k, i) => (held.has(k) ? test : train).push(i));
    return { train: Int32Array.from(train), validation: Int32Array.from(test), by: 'group', stratified: false, seed, detail: { validationGroups: [...held].sort() } };
  }
  checkSize(validation, n, 'rows');
  if (options.by === 'time') {
    if (options.time === undefined) throw new FitstreamInputError('data.columns.time', 'is required with data.split.by = time.');
    const keys = timeKeys(options.time, options.source, options.rowNumber ?? ((i) => i + 1));
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
    const { train } = trainTestSplit(n, { testSize: validation, shuffle: false });
    let cut = train.length;
    while (cut > 0 && keys[order[cut - 1]!] === keys[order[cut]!]) cut--;
    if (cut === 0) throw new FitstreamInputError('data.columns.time', `${options.source}: every row up to the validation cut has the same time, so no row is left to train on; use a column with distinct times.`);
    const first = options.time[order[cut]!]!;
    return { train: Int32Array.from(order.slice(0, cut)), validation: Int32Array.from(order.slice(cut)), by: 'time', stratified: false, seed, detail: { validationFrom: first } };
  }
  const sides = samplers(() => trainTestSplit(n, { testSize: validation, seed, ...(options.stratify ? { stratify: options.stratify } : {}) }));
  return { train: sides.train, validation: sides.test, by: 'random', stratified: options.stratify !== undefined, seed };
}

/**
 * Whether stratifying by `labels` is possible: every class needs two members (one per side). Returns the classes that
 * have fewer.
 *
 * @example
 * ```ts
 * lonelyClasses(['a', 'a', 'b']); // ['b']
 * ```
 */
export function lonelyClasses(labels: readonly (string | number)[]): string[] {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(String(l), (counts.get(String(l)) ?? 0) + 1);
  return [...counts].filter(([, c]) => c < 2).map(([l]) => l);
}
