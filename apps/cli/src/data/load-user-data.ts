import { resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { classNamesOf, findMissing, fitTableEncoding, missingError, type TableEncoding, type TableEncodingRecord } from './encode.js';
import { readCsv } from './read-csv.js';
import { readJsonLines, readJsonRows } from './read-jsonl.js';
import { inferTask, resolveRoles, type ColumnRoles, type Task } from './roles.js';
import { detectFormat, userDataSchema, type DataFormat, type ResolvedDataSpec, type UserDataSpec } from './spec.js';
import { lonelyClasses, splitRows, type RowSplit } from './split.js';
import { selectRows, type Table } from './table.js';

/** One side of the split: inputs, targets and, when the data has a weights column, per-sample weights. */
export interface UserDataSplit {
  readonly x: tf.Tensor;
  /** Class indices (int32 `[n]`) for classification, values (float32 `[n, k]`) for regression. */
  readonly y: tf.Tensor;
  readonly sampleWeight?: tf.Tensor1D | undefined;
}

/** Any fitted encoding `loadUserData` returns; its `toJSON()` is `info.preprocessing`. */
export type DataEncoding = TableEncoding;
/** What `data.json` records as `preprocessing`. */
export type DataEncodingRecord = TableEncodingRecord;

/** What {@link loadUserData} returns. The tensors are the caller's to dispose ({@link disposeUserData}). */
export interface UserData {
  readonly train: UserDataSplit;
  readonly validation: UserDataSplit;
  /** JSON for `<run>/data.json`: the source, the roles, the split and `preprocessing` (the fitted encoding). */
  readonly info: { readonly preprocessing: DataEncodingRecord } & Readonly<Record<string, unknown>>;
  /** The fitted encoding: `apply` encodes new rows (`predict`, `evaluate --data`) as the training rows were. */
  readonly encoding: DataEncoding;
  readonly task: Task;
  /** Class names, index order (classification). */
  readonly classNames?: readonly string[] | undefined;
  /** Inputs per sample, flattened (one-hot columns counted): a table's encoded width, an image's h·w·c. */
  readonly featureCount: number;
  /** The shape of one sample's input: `[featureCount]` for tables, `[h, w, c]` for images. */
  readonly inputShape: readonly number[];
  /** Outputs the model needs: the number of classes, or of target columns. */
  readonly outputCount: number;
  /** Problems that did not stop loading (rows dropped, unseen categories, identifier-like columns): one line each. */
  readonly warnings: readonly string[];
}

/** Options of {@link loadUserData}. */
export interface LoadUserDataOptions {
  /** The run seed: the split is drawn from it. */
  readonly seed: number;
  /** Where a relative `spec.path` is resolved (default `process.cwd()`). */
  readonly cwd?: string | undefined;
  /** Receives each warning line once loading is done (they are also in the result). */
  readonly log?: ((line: string) => void) | undefined;
}

/** A string feature with more distinct training values than this (and than half the rows) gets an identifier warning. */
const MANY_CATEGORIES = 20;

/** Reads a tabular file with the spec's reader options. */
export async function readTable(path: string, format: DataFormat, spec: Pick<ResolvedDataSpec, 'delimiter' | 'header' | 'missing'>): Promise<{ table: Table; delimiter?: string }> {
  switch (format) {
    case 'csv':
    case 'tsv':
      return readCsv(path, { delimiter: spec.delimiter ?? (format === 'tsv' ? '\t' : undefined), header: spec.header, missing: spec.missing });
    case 'jsonl':
      return { table: await readJsonLines(path, { missing: spec.missing }) };
    case 'json':
      return { table: await readJsonRows(path, { missing: spec.missing }) };
    default:
      throw new FitstreamInputError('data.format', `${format} data is not a table; readTable reads csv, tsv, jsonl and json.`);
  }
}

function parseSpec(spec: UserDataSpec | ResolvedDataSpec): ResolvedDataSpec {
  const parsed = userDataSchema.safeParse(spec);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new FitstreamInputError(['data', ...issue.path.map(String)].join('.'), `${issue.message}.`);
}

/** Missing values before the split: listed (error), their rows dropped, or — for imputation — allowed in features only. */
function handleMissing(table: Table, roles: ColumnRoles, spec: ResolvedDataSpec, warnings: string[]): Table {
  const others = [...roles.target, ...[roles.weights, roles.groups, roles.time].filter((c): c is string => c !== undefined)];
  const used = [...roles.features, ...others];
  const all = findMissing(table, used);
  if (all.places.length === 0) return table;
  if (spec.onMissing === 'error') throw missingError(table, all.places, 'Fill them in, or set data.onMissing to drop-rows, mean, median or most-frequent.');
  if (spec.onMissing === 'drop-rows') {
    const kept = Array.from({ length: table.rows }, (_, i) => i).filter((i) => !all.rows.has(i));
    if (kept.length === 0) throw new FitstreamInputError('data.onMissing', `${table.source}: every row has a missing value, so drop-rows leaves none. Fill them in, or impute (mean, median, most-frequent).`);
    warnings.push(`dropped ${all.rows.size} of ${table.rows} rows with missing values (data.onMissing = drop-rows)`);
    return selectRows(table, kept);
  }
  const unfillable = findMissing(table, others);
  if (unfillable.places.length > 0) {
    throw missingError(table, unfillable.places, `Imputation (data.onMissing = ${spec.onMissing}) fills features only: remove these rows, or set data.onMissing to drop-rows.`);
  }
  return table;
}

function stratifyLabels(table: Table, roles: ColumnRoles, task: Task, spec: ResolvedDataSpec, warnings: string[]): (string | number)[] | undefined {
  const { stratify, by } = spec.split;
  if (stratify === true && by !== 'random') throw new FitstreamInputError('data.split.stratify', `applies to random splits; data.split.by is ${by}. Drop stratify or split at random.`);
  if (stratify === true && task !== 'classification') throw new FitstreamInputError('data.split.stratify', 'keeps class proportions, but the task is regression; drop stratify.');
  if (stratify === false || by !== 'random' || task !== 'classification') return undefined;
  const labels = table.get(roles.target[0]!).map((v) => String(v));
  const lonely = lonelyClasses(labels);
  if (lonely.length > 0 && stratify === undefined) {
    warnings.push(`not stratifying the split: class${lonely.length === 1 ? '' : 'es'} ${lonely.slice(0, 10).map((l) => JSON.stringify(l)).join(', ')} ha${lonely.length === 1 ? 's' : 've'} a single row`);
    return undefined;
  }
  return labels;
}

function sideOf(encoding: TableEncoding, table: Table, rows: Int32Array, warnings: string[]): UserDataSplit {
  const encoded = encoding.apply(selectRows(table, rows));
  for (const w of encoded.warnings) warnings.push(w);
  return { x: encoded.x, y: encoded.y!, ...(encoded.sampleWeight ? { sampleWeight: encoded.sampleWeight } : {}) };
}

function identifierWarnings(encoding: TableEncoding, trainRows: number): string[] {
  return encoding
    .toJSON()
    .features.filter((f) => f.kind === 'categorical' && f.categories.length > MANY_CATEGORIES && f.categories.length > trainRows / 2)
    .map((f) => `column ${JSON.stringify(f.column)} has ${f.kind === 'categorical' ? f.categories.length : 0} distinct values in ${trainRows} training rows, one input each after one-hot encoding; if it is an identifier, leave it out of data.columns.features`);
}

async function loadTable(path: string, format: DataFormat, spec: ResolvedDataSpec, seed: number, warnings: string[]): Promise<UserData> {
  const { table: read, delimiter } = await readTable(path, format, spec);
  const roles = resolveRoles(read, spec);
  const table = handleMissing(read, roles, spec, warnings);
  const task = inferTask(table, roles.target, spec.task);
  const classNames = task === 'classification' ? classNamesOf(table, roles.target[0]!) : undefined;
  const split: RowSplit = splitRows(table.rows, {
    validation: spec.split.validation,
    by: spec.split.by,
    seed,
    stratify: stratifyLabels(table, roles, task, spec, warnings),
    groups: roles.groups === undefined ? undefined : table.get(roles.groups),
    time: roles.time === undefined ? undefined : table.get(roles.time),
    source: table.source,
    rowNumber: (i) => table.rowNumber(i),
  });
  const encoding = fitTableEncoding(table, split.train, roles, {
    task,
    classNames,
    categorical: spec.categorical,
    scale: spec.scale ?? 'standard',
    onMissing: spec.onMissing,
    strict: spec.strict,
  });
  for (const w of identifierWarnings(encoding, split.train.length)) warnings.push(w);
  const train = sideOf(encoding, table, split.train, warnings);
  let validation: UserDataSplit;
  try {
    validation = sideOf(encoding, table, split.validation, warnings);
  } catch (error) {
    disposeSplit(train);
    throw error;
  }
  const { train: trainRows, validation: validationRows, ...how } = split;
  const info = {
    source: {
      path,
      format,
      ...(delimiter === undefined ? {} : { delimiter }),
      rows: read.rows,
      columns: read.columns.map((name) => ({ name, kind: read.kind(name), missing: read.get(name).filter((v) => v === null).length })),
    },
    roles,
    task,
    ...(classNames ? { classNames } : {}),
    split: { ...how, validationSize: spec.split.validation, rows: { train: trainRows.length, validation: validationRows.length } },
    droppedRows: read.rows - table.rows,
    warnings,
    preprocessing: encoding.toJSON(),
  };
  return {
    train,
    validation,
    info,
    encoding,
    task,
    classNames,
    featureCount: encoding.featureCount,
    inputShape: [encoding.featureCount],
    outputCount: task === 'classification' ? classNames!.length : roles.target.length,
    warnings,
  };
}

/**
 * Loads the user's data for `fitstream fit`: reads the file (CSV/TSV, JSON Lines, JSON rows), resolves the column
 * roles, handles missing values, infers the task, splits with the run seed (@fitstream/samplers), fits the encoding
 * (one-hot categories, scaling, imputation) on the training split only and encodes both sides. Bad input throws a
 * {@link FitstreamInputError} naming the `data.*` key and the fix.
 *
 * @example
 * ```ts
 * const data = await loadUserData({ path: 'iris.csv', columns: { target: 'species' } }, { seed: 42 });
 * await trainer.fit(data.train, { epochs: 50, validation: data.validation });
 * await writeJson('runs/x/data.json', data.info);
 * disposeUserData(data);
 * ```
 */
export async function loadUserData(spec: UserDataSpec | ResolvedDataSpec, options: LoadUserDataOptions): Promise<UserData> {
  const resolved = parseSpec(spec);
  const path = resolve(options.cwd ?? process.cwd(), resolved.path);
  const format = await detectFormat(path, resolved.format);
  const warnings: string[] = [];
  let data: UserData;
  switch (format) {
    case 'csv':
    case 'tsv':
    case 'jsonl':
    case 'json':
      data = await loadTable(path, format, resolved, options.seed, warnings);
      break;
    default:
      throw new FitstreamInputError('data.format', `${format} data is not supported yet.`);
  }
  if (options.log) for (const w of data.warnings) options.log(w);
  return data;
}

function disposeSplit(split: UserDataSplit): void {
  split.x.dispose();
  split.y.dispose();
  split.sampleWeight?.dispose();
}

/**
 * Disposes every tensor of a {@link UserData}.
 *
 * @example
 * ```ts
 * const data = await loadUserData(spec, { seed: 1 });
 * try { await trainer.fit(data.train, { validation: data.validation }); } finally { disposeUserData(data); }
 * ```
 */
export function disposeUserData(data: Pick<UserData, 'train' | 'validation'>): void {
  disposeSplit(data.train);
  disposeSplit(data.validation);
}
