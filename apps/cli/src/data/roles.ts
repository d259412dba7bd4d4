import { FitstreamInputError } from '@fitstream/core';
import { didYouMean } from '@fitstream/util';
import type { ResolvedDataSpec } from './spec.js';
import type { Table } from './table.js';

/** What a model learns: classes (one target column) or values (one or several). */
export type Task = 'classification' | 'regression';

/** The columns of a table by role, resolved against its header. */
export interface ColumnRoles {
  readonly features: readonly string[];
  readonly target: readonly string[];
  readonly weights?: string | undefined;
  readonly groups?: string | undefined;
  readonly time?: string | undefined;
}

/** At most this many distinct integer target values make a classification task when the task is not given. */
export const MAX_INFERRED_CLASSES = 20;

const list = (v: string | readonly string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : [...v]);

/**
 * `name` must be a column of `table`; the error names the argument, the columns there are and the closest one.
 *
 * @example
 * ```ts
 * checkColumn(table, 'specis', 'data.columns.target'); // data.columns.target: … has no column "specis". … Did you mean "species"?
 * ```
 */
export function checkColumn(table: Table, name: string, argument: string): void {
  if (table.columns.includes(name)) return;
  const closest = didYouMean(name, table.columns);
  const hint = closest === undefined ? '' : ` Did you mean ${JSON.stringify(closest)}?`;
  throw new FitstreamInputError(argument, `${table.source} has no column ${JSON.stringify(name)}. Its columns: ${table.columns.map((c) => JSON.stringify(c)).join(', ')}.${hint}`);
}

/**
 * Resolves the column roles of `spec.columns` against a table: every named column must exist, no column has two
 * roles, a target is required, and `features` defaults to every column no other role uses.
 *
 * @example
 * ```ts
 * resolveRoles(table, spec); // { features: ['sepal length', …], target: ['species'] }
 * ```
 */
export function resolveRoles(table: Table, spec: Pick<ResolvedDataSpec, 'columns' | 'split'>): ColumnRoles {
  const { columns } = spec;
  const target = list(columns.target);
  if (target.length === 0) {
    throw new FitstreamInputError('data.columns.target', `is required: name the column(s) to predict (--target <column>). Columns of ${table.source}: ${table.columns.map((c) => JSON.stringify(c)).join(', ')}.`);
  }
  const roles: [string, string[]][] = [
    ['data.columns.target', target],
    ['data.columns.weights', list(columns.weights)],
    ['data.columns.groups', list(columns.groups)],
    ['data.columns.time', list(columns.time)],
  ];
  const explicitFeatures = columns.features !== undefined;
  if (explicitFeatures) roles.push(['data.columns.features', list(columns.features)]);
  const owner = new Map<string, string>();
  for (const [argument, names] of roles) {
    for (const name of names) {
      checkColumn(table, name, argument);
      const other = owner.get(name);
      if (other !== undefined) throw new FitstreamInputError(argument, `names ${JSON.stringify(name)}, which ${other} already uses; a column has one role.`);
      owner.set(name, argument);
    }
  }
  if (spec.split.by === 'group' && columns.groups === undefined) throw new FitstreamInputError('data.columns.groups', 'is required with data.split.by = group: name the column whose groups must stay on one side.');
  if (spec.split.by === 'time' && columns.time === undefined) throw new FitstreamInputError('data.columns.time', 'is required with data.split.by = time: name the column that orders the rows.');
  const features = explicitFeatures ? list(columns.features) : table.columns.filter((c) => !owner.has(c));
  if (features.length === 0) throw new FitstreamInputError('data.columns.features', `is empty: every column of ${table.source} has another role. Leave at least one column as a feature.`);
  return { features, target, weights: columns.weights, groups: columns.groups, time: columns.time };
}

/**
 * The task, given or inferred from the target: a string column, or one with at most {@link MAX_INFERRED_CLASSES}
 * distinct integer values, is classification; anything else (and several target columns) regression.
 *
 * @example
 * ```ts
 * inferTask(table, ['species']); // 'classification'
 * ```
 */
export function inferTask(table: Table, target: readonly string[], given?: Task): Task {
  if (given === 'classification' && target.length > 1) {
    throw new FitstreamInputError('data.columns.target', `names ${target.length} columns, but classification takes one target column; pick one, or set data.task to regression.`);
  }
  if (given !== undefined) return given;
  if (target.length > 1) return 'regression';
  const name = target[0]!;
  if (table.kind(name) === 'string') return 'classification';
  const values = new Set<number>();
  for (const v of table.get(name)) {
    if (v === null) continue;
    if (!Number.isInteger(v)) return 'regression';
    values.add(v as number);
    if (values.size > MAX_INFERRED_CLASSES) return 'regression';
  }
  return 'classification';
}
