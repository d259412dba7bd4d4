import { resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import * as tfjs from '@tensorflow/tfjs';
import { classNamesOf, findMissing, fitTableEncoding, missingError, restoreTableEncoding, type TableEncoding, type TableEncodingRecord } from './encode.js';
import {
  arrayTask,
  classLabels,
  findNaN,
  fitArrayEncoding,
  imageEncoding,
  restoreArrayEncoding,
  type ArrayEncoding,
  type ArrayEncodingRecord,
  type ImageEncoding,
  type ImageEncodingRecord,
} from './encode-arrays.js';
import { readCsv } from './read-csv.js';
import { readImageFolder } from './read-images.js';
import { readJsonLines, readJsonRows } from './read-jsonl.js';
import { readDataModule } from './read-module.js';
import { npyTable, readNpy, readNpz } from './read-npy.js';
import { inferTask, resolveRoles, type ColumnRoles, type Task } from './roles.js';
import { detectFormat, userDataSchema, type DataFormat, type ResolvedDataSpec, type UserDataSpec } from './spec.js';
import { lonelyClasses, splitRows, type RowSplit } from './split.js';
import { selectRows, type ArrayData, type NdArray, type Table } from './table.js';

/** One side of the split: inputs, targets and, when the data has a weights column, per-sample weights. */
export interface UserDataSplit {
  readonly x: tf.Tensor;
  /** Class indices (int32 `[n]`) for classification, values (float32 `[n, k]`) for regression. */
  readonly y: tf.Tensor;
  readonly sampleWeight?: tf.Tensor1D | undefined;
}

/** Any fitted encoding `loadUserData` returns (by `kind`: table, arrays, images); its `toJSON()` is `info.preprocessing`. */
export type DataEncoding = TableEncoding | ArrayEncoding | ImageEncoding;
/** What `data.json` records as `preprocessing`. */
export type DataEncodingRecord = TableEncodingRecord | ArrayEncodingRecord | ImageEncodingRecord;

/**
 * Rebuilds the encoding a run recorded (`data.json`'s `preprocessing`), for `predict` and `evaluate --data`: a table
 * encoding's `apply(table)`, an array encoding's `apply({ x })`, an image encoding's `applyFiles(paths)`.
 *
 * @example
 * ```ts
 * const { preprocessing } = JSON.parse(await readFile(join(runDir, 'data.json'), 'utf8'));
 * const encoding = restoreEncoding(preprocessing);
 * if (encoding.kind === 'table') encoding.apply((await readTable('rows.csv', 'csv', spec)).table);
 * ```
 */
export function restoreEncoding(record: DataEncodingRecord): DataEncoding {
  switch (record.kind) {
    case 'table':
      return restoreTableEncoding(record);
    case 'arrays':
      return restoreArrayEncoding(record);
    case 'images':
      return imageEncoding(record);
    default:
      throw new Error(`data.json's preprocessing has an unknown kind ${JSON.stringify((record as { kind?: unknown }).kind)}; was the run written by another version of fitstream?`);
  }
}

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
  /** A table's model inputs by name (one-hot columns as `column=value`); empty for arrays and images. */
  readonly featureNames: readonly string[];
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

/**
 * Reads a tabular file (CSV/TSV, JSON Lines, JSON rows, a 2-D `.npy`) with the spec's reader options — what
 * `predict` and `evaluate --data` read new rows with.
 *
 * @example
 * ```ts
 * const { table } = await readTable('new-rows.csv', 'csv', { header: true, missing: ['', 'NA'] });
 * ```
 */
export async function readTable(path: string, format: DataFormat, spec: Pick<ResolvedDataSpec, 'delimiter' | 'header' | 'missing'>): Promise<{ table: Table; delimiter?: string }> {
  switch (format) {
    case 'npy':
      return { table: npyTable(await readNpy(path), path) };
    case 'csv':
    case 'tsv':
      return readCsv(path, { delimiter: spec.delimiter ?? (format === 'tsv' ? '\t' : undefined), header: spec.header, missing: spec.missing });
    case 'jsonl':
      return { table: await readJsonLines(path, { missing: spec.missing }) };
    case 'json':
      return { table: await readJsonRows(path, { missing: spec.missing }) };
    default:
      throw new FitstreamInputError('data.format', `${format} data is not a table; readTable reads csv, tsv, jsonl, json and 2-D npy.`);
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
  if (spec.onMissing === 'error') throw missingError(table.source, all.places, 'Fill them in, or set data.onMissing to drop-rows, mean, median or most-frequent.');
  if (spec.onMissing === 'drop-rows') {
    const kept = Array.from({ length: table.rows }, (_, i) => i).filter((i) => !all.rows.has(i));
    if (kept.length === 0) throw new FitstreamInputError('data.onMissing', `${table.source}: every row has a missing value, so drop-rows leaves none. Fill them in, or impute (mean, median, most-frequent).`);
    warnings.push(`dropped ${all.rows.size} of ${table.rows} rows with missing values (data.onMissing = drop-rows)`);
    return selectRows(table, kept);
  }
  const unfillable = findMissing(table, others);
  if (unfillable.places.length > 0) {
    throw missingError(table.source, unfillable.places, `Imputation (data.onMissing = ${spec.onMissing}) fills features only: remove these rows, or set data.onMissing to drop-rows.`);
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
  return toSplit(encoded);
}

/** Encodes the training side, then the validation side; a failure on the second frees the first. */
function encodeSplits(encode: (side: 'train' | 'validation') => UserDataSplit): { train: UserDataSplit; validation: UserDataSplit } {
  const train = encode('train');
  try {
    return { train, validation: encode('validation') };
  } catch (error) {
    disposeSplit(train);
    throw error;
  }
}

function identifierWarnings(encoding: TableEncoding, trainRows: number): string[] {
  return encoding
    .toJSON()
    .features.filter((f) => f.kind === 'categorical' && f.categories.length > MANY_CATEGORIES && f.categories.length > trainRows / 2)
    .map((f) => `column ${JSON.stringify(f.column)} has ${f.kind === 'categorical' ? f.categories.length : 0} distinct values in ${trainRows} training rows, one input each after one-hot encoding; if it is an identifier, leave it out of data.columns.features`);
}

/** What each kind of data adds to {@link UserData} and its `info`; {@link assembleUserData} fills in the rest. */
interface UserDataParts extends Omit<UserData, 'info' | 'warnings'> {
  readonly split: RowSplit;
  readonly source: Readonly<Record<string, unknown>>;
  /** Facts about the split besides its kind and sizes (e.g. `validationSize`, or where a given validation set came from). */
  readonly splitFacts: Readonly<Record<string, unknown>>;
  readonly droppedRows: number;
  /** Entries of `info` between `source` and `task` (a table's column roles). */
  readonly roles?: unknown;
}

/** One shape of result and of `data.json` for tables, arrays and images. */
function assembleUserData({ split, source, splitFacts, droppedRows, roles, ...data }: UserDataParts, warnings: string[]): UserData {
  const { train: trainRows, validation: validationRows, detail, ...how } = split;
  const info = {
    source,
    ...(roles === undefined ? {} : { roles }),
    task: data.task,
    ...(data.classNames ? { classNames: data.classNames } : {}),
    split: { ...how, ...detail, ...splitFacts, rows: { train: trainRows.length, validation: validationRows.length } },
    droppedRows,
    warnings,
    preprocessing: data.encoding.toJSON(),
  };
  return { ...data, info, warnings };
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
  const { train, validation } = encodeSplits((side) => sideOf(encoding, table, split[side], warnings));
  return assembleUserData(
    {
      train,
      validation,
      split,
      source: {
        path,
        format,
        ...(delimiter === undefined ? {} : { delimiter }),
        rows: read.rows,
        columns: read.columns.map((name) => ({ name, kind: read.kind(name), missing: read.get(name).filter((v) => v === null).length })),
      },
      roles,
      splitFacts: { validationSize: spec.split.validation },
      droppedRows: read.rows - table.rows,
      encoding,
      task,
      classNames,
      featureCount: encoding.featureCount,
      featureNames: encoding.featureNames,
      inputShape: [encoding.featureCount],
      outputCount: task === 'classification' ? classNames!.length : roles.target.length,
    },
    warnings,
  );
}

/** One array of an `.npz` by its role: `columns.<role>` names it, else the default name; a missing one lists the names there are. */
function npzArray(arrays: ReadonlyMap<string, NdArray>, path: string, named: string | readonly string[] | undefined, fallback: string, argument: string, required: boolean): NdArray | undefined {
  const names = named === undefined ? [fallback] : typeof named === 'string' ? [named] : [...named];
  if (names.length !== 1) throw new FitstreamInputError(argument, `names ${names.length} arrays; an .npz role takes one array name.`);
  const found = arrays.get(names[0]!);
  if (found === undefined && (required || named !== undefined)) {
    throw new FitstreamInputError(argument, `${path} has no array ${JSON.stringify(names[0])}; it holds ${[...arrays.keys()].map((k) => JSON.stringify(k)).join(', ')}. Name the arrays x and y (numpy.savez(path, x=x, y=y)), or set ${argument} to the array's name.`);
  }
  return found;
}

async function npzData(path: string, spec: ResolvedDataSpec): Promise<ArrayData> {
  const arrays = await readNpz(path);
  const { columns } = spec;
  if (columns.groups !== undefined || columns.time !== undefined) throw new FitstreamInputError(columns.groups !== undefined ? 'data.columns.groups' : 'data.columns.time', 'applies to tables (CSV, JSON Lines); an .npz has the roles x, y and sample_weight.');
  const x = npzArray(arrays, path, columns.features, 'x', 'data.columns.features', true)!;
  const y = npzArray(arrays, path, columns.target, 'y', 'data.columns.target', true)!;
  const sampleWeight = npzArray(arrays, path, columns.weights, 'sample_weight', 'data.columns.weights', false);
  return { kind: 'arrays', source: path, x, y, sampleWeight };
}

function checkRows(part: { readonly x: NdArray; readonly y: NdArray; readonly sampleWeight?: NdArray | undefined }, source: string): number {
  const n = part.x.shape[0];
  if (n === undefined || part.x.shape.length < 2 && part.x.shape.length !== 1) throw new FitstreamInputError('data.path', `${source}: x must have a first axis of samples; its shape is [${part.x.shape.join(', ')}].`);
  if (part.y.shape[0] !== n) throw new FitstreamInputError('data.path', `${source}: x has ${n} samples but y has ${part.y.shape[0] ?? 0}; give one target per sample.`);
  if (part.sampleWeight !== undefined && part.sampleWeight.data.length !== n) throw new FitstreamInputError('data.columns.weights', `${source}: sample_weight has ${part.sampleWeight.data.length} values for ${n} samples; give one per sample.`);
  return n;
}

/** A 1-D x is one feature per sample: `[n]` → `[n, 1]`. */
const atLeast2d = (a: NdArray): NdArray => (a.shape.length === 1 ? { ...a, shape: [a.shape[0]!, 1] } : a);

/** Rows of an array part kept after NaN handling: all, an error listing the places, or (drop-rows) the rows without NaN. */
function keptRows(part: { readonly x: NdArray; readonly y: NdArray; readonly sampleWeight?: NdArray | undefined }, n: number, spec: ResolvedDataSpec, source: string, warnings: string[]): Int32Array {
  const nan = findNaN(part);
  if (nan.places.length === 0) return Int32Array.from({ length: n }, (_, i) => i);
  if (spec.onMissing === 'drop-rows') {
    const kept = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !nan.rows.has(i));
    if (kept.length === 0) throw new FitstreamInputError('data.onMissing', `${source}: every sample has a NaN, so drop-rows leaves none.`);
    warnings.push(`dropped ${nan.rows.size} of ${n} samples with NaN values (data.onMissing = drop-rows)`);
    return kept;
  }
  const fix = spec.onMissing === 'error' ? 'Replace them, or set data.onMissing to drop-rows.' : `Imputation (data.onMissing = ${spec.onMissing}) applies to table columns; for arrays, replace the NaN values or set data.onMissing to drop-rows.`;
  throw missingError(source, nan.places, fix, 'NaN values; samples counted from 1');
}
function arrayShapes(part: { readonly x: NdArray; readonly y: NdArray; readonly sampleWeight?: NdArray | undefined }) {
  return { x: { shape: part.x.shape, dtype: part.x.dtype }, y: { shape: part.y.shape, dtype: part.y.dtype }, ...(part.sampleWeight ? { sampleWeight: { shape: part.sampleWeight.shape, dtype: part.sampleWeight.dtype } } : {}) };
}

/** Array data (an `.npz`, a data module) → the split, the fitted scaling and the tensors. */
function loadArrays(source: ArrayData, format: DataFormat, spec: ResolvedDataSpec, seed: number, warnings: string[]): UserData {
  if (spec.split.by !== 'random') throw new FitstreamInputError('data.split.by', `is ${spec.split.by}, which needs a table column (data.columns.${spec.split.by === 'group' ? 'groups' : 'time'}); arrays split at random.`);
  if (spec.categorical.length > 0) throw new FitstreamInputError('data.categorical', 'applies to table columns; arrays are numeric. One-hot encode them before saving.');
  const data = { ...source, x: atLeast2d(source.x) };
  const n = checkRows(data, source.source);
  const kept = keptRows(data, n, spec, source.source, warnings);
  const given = source.validation ? { ...source.validation, x: atLeast2d(source.validation.x) } : undefined;
  const givenKept = given ? keptRows(given, checkRows(given, `${source.source} (validation)`), spec, `${source.source} (validation)`, warnings) : undefined;

  const { task, classNames: trainClasses, oneHot } = arrayTask(data.y, spec.task);
  let classNames = trainClasses;
  if (given && task === 'classification' && !oneHot) {
    const union = new Set([...(trainClasses ?? []), ...(arrayTask(given.y, 'classification').classNames ?? [])]);
    classNames = [...union].map(Number).sort((a, b) => a - b).map(String);
  }
  let split: RowSplit;
  if (given) {
    if (spec.split.stratify === true) throw new FitstreamInputError('data.split.stratify', 'has nothing to stratify: the data module gave its own validation part.');
    split = { train: kept, validation: givenKept!, by: 'random', stratified: false, seed };
  } else {
    const labels = task === 'classification' ? classLabels(data.y, oneHot, classNames!) : undefined;
    const keptLabels = labels ? Array.from(kept, (i) => labels[i]!) : undefined;
    let stratify: number[] | undefined;
    if (spec.split.stratify === true && task !== 'classification') throw new FitstreamInputError('data.split.stratify', 'keeps class proportions, but the task is regression; drop stratify.');
    if (keptLabels && spec.split.stratify !== false) {
      const lonely = lonelyClasses(keptLabels);
      if (lonely.length === 0 || spec.split.stratify === true) stratify = keptLabels;
      else warnings.push(`not stratifying the split: class${lonely.length === 1 ? '' : 'es'} ${lonely.slice(0, 10).map((l) => JSON.stringify(classNames![Number(l)])).join(', ')} ha${lonely.length === 1 ? 's' : 've'} a single sample`);
    }
    const drawn = splitRows(kept.length, { validation: spec.split.validation, by: 'random', seed, stratify, source: source.source });
    split = { ...drawn, train: drawn.train.map((i) => kept[i]!), validation: drawn.validation.map((i) => kept[i]!) };
  }
  const ySize = data.y.shape.slice(1).reduce((a, b) => a * b, 1);
  const encoding = fitArrayEncoding(data.x, split.train, { scale: spec.scale ?? 'none', task, classNames, oneHot, targetSize: ySize });
  const { train, validation } = encodeSplits((side) => toSplit(encoding.apply(side === 'train' ? data : (given ?? data), split[side])));
  return assembleUserData(
    {
      train,
      validation,
      split,
      source: { path: source.source, format, arrays: arrayShapes(data), ...(given ? { validation: arrayShapes(given) } : {}) },
      splitFacts: given ? { from: 'the data module' } : { validationSize: spec.split.validation },
      droppedRows: n - kept.length + (given ? given.x.shape[0]! - givenKept!.length : 0),
      encoding,
      task,
      classNames,
      featureCount: encoding.featureCount,
      featureNames: [],
      inputShape: encoding.inputShape,
      outputCount: task === 'classification' ? classNames!.length : ySize,
    },
    warnings,
  );
}

function toSplit(encoded: { readonly x: tfjs.Tensor; readonly y?: tfjs.Tensor | undefined; readonly sampleWeight?: tfjs.Tensor1D | undefined }): UserDataSplit {
  return { x: encoded.x, y: encoded.y!, ...(encoded.sampleWeight ? { sampleWeight: encoded.sampleWeight } : {}) };
}

/** An image folder → a stratified split of its images (read once), labels = class indices. */
async function loadImages(path: string, spec: ResolvedDataSpec, seed: number, warnings: string[]): Promise<UserData> {
  if (spec.images === undefined) throw new FitstreamInputError('data.images', `is required for the image folder ${path}: give the size every image is resized to, e.g. images: { size: [32, 32], channels: 3 } (--data.images.size '[32, 32]').`);
  if (spec.split.by !== 'random') throw new FitstreamInputError('data.split.by', `is ${spec.split.by}; an image folder splits at random (stratified by class).`);
  if (spec.scale !== undefined && spec.scale !== 'none') throw new FitstreamInputError('data.scale', `is ${spec.scale}, but images are read as values in [0, 1]; drop data.scale for image folders.`);
  if (spec.task === 'regression') throw new FitstreamInputError('data.task', 'is regression, but an image folder labels each image with its class folder; drop data.task.');
  const folder = await readImageFolder(path, { size: spec.images.size, channels: spec.images.channels });
  if (folder.skipped.length > 0) warnings.push(`skipped ${folder.skipped.length} file${folder.skipped.length === 1 ? '' : 's'} that are not .png, .jpg or .jpeg: ${folder.skipped.slice(0, 10).join(', ')}${folder.skipped.length > 10 ? ', …' : ''}`);
  const labels = Array.from(folder.labels);
  let stratify: number[] | undefined;
  if (spec.split.stratify !== false) {
    const lonely = lonelyClasses(labels);
    if (lonely.length === 0 || spec.split.stratify === true) stratify = labels;
    else warnings.push(`not stratifying the split: class${lonely.length === 1 ? '' : 'es'} ${lonely.map((l) => JSON.stringify(folder.classNames[Number(l)])).join(', ')} ha${lonely.length === 1 ? 's' : 've'} a single image`);
  }
  const split = splitRows(labels.length, { validation: spec.split.validation, by: 'random', seed, stratify, source: path });
  const record: ImageEncodingRecord = { kind: 'images', version: 1, size: spec.images.size, channels: spec.images.channels, task: 'classification', classNames: [...folder.classNames] };
  const encoding = imageEncoding(record);
  const [h, w, c] = folder.sampleShape;
  const size = h * w * c;
  const side = (rows: Int32Array): UserDataSplit => {
    const pixels = new Float32Array(rows.length * size);
    rows.forEach((r, i) => pixels.set(folder.pixels.subarray(r * size, (r + 1) * size), i * size));
    return { x: tfjs.tensor4d(pixels, [rows.length, h, w, c]), y: tfjs.tensor1d(Int32Array.from(rows, (r) => folder.labels[r]!), 'int32') };
  };
  const counts = folder.classNames.map((_, k) => labels.filter((l) => l === k).length);
  return assembleUserData(
    {
      ...encodeSplits((which) => side(split[which])),
      split,
      source: { path, format: 'images', images: labels.length, perClass: Object.fromEntries(folder.classNames.map((name, k) => [name, counts[k]])), skipped: folder.skipped.length },
      splitFacts: { validationSize: spec.split.validation },
      droppedRows: 0,
      encoding,
      task: 'classification',
      classNames: folder.classNames,
      featureCount: size,
      featureNames: [],
      inputShape: folder.sampleShape,
      outputCount: folder.classNames.length,
    },
    warnings,
  );
}

/**
 * Loads the user's data for `fitstream fit`: reads the file (CSV/TSV, JSON Lines, JSON rows, `.npy`, `.npz`, an image
 * folder, a JS/TS module), resolves the column roles, handles missing values, infers the task, splits with the run
 * seed (@fitstream/samplers), fits the encoding (one-hot categories, scaling, imputation) on the training split only and
 * encodes both sides. Bad input throws a {@link FitstreamInputError} naming the `data.*` key and the fix.
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
    case 'npy':
      data = await loadTable(path, format, resolved, options.seed, warnings);
      break;
    case 'npz':
      data = loadArrays(await npzData(path, resolved), format, resolved, options.seed, warnings);
      break;
    case 'module': {
      const arrays = await readDataModule(path, { seed: options.seed, cwd: options.cwd ?? process.cwd(), options: resolved.options, tf: tfjs }, { timeoutMs: resolved.moduleTimeoutMs });
      data = loadArrays(arrays, format, resolved, options.seed, warnings);
      break;
    }
    case 'images':
      data = await loadImages(path, resolved, options.seed, warnings);
      break;
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
