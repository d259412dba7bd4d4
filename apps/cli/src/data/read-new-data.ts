import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { restoreArrayEncoding, type ArrayEncodingRecord, type ImageEncodingRecord } from './encode-arrays.js';
import { restoreTableEncoding, type TableEncodingRecord } from './encode.js';
import { readTable, restoreEncoding, type DataEncodingRecord } from './load-user-data.js';
import { readDataModule } from './read-module.js';
import { readNpy, readNpz } from './read-npy.js';
import type { Task } from './roles.js';
import { detectFormat, DEFAULT_MISSING, type ResolvedDataSpec } from './spec.js';
import type { NdArray } from './table.js';

/** What a run's recorded encoding says about its data: enough to build or check a model without the training file. */
export interface EncodingFacts {
  readonly kind: DataEncodingRecord['kind'];
  readonly task: Task;
  readonly classNames: readonly string[];
  /** A table's model inputs by name (one-hot columns as `column=value`); empty for arrays and images. */
  readonly featureNames: readonly string[];
  readonly inputShape: readonly number[];
  /** Classes, or target values per sample. */
  readonly outputCount: number;
  /** The target column(s) of a table; `y` for arrays, `class folder` for images. */
  readonly target: readonly string[];
}

/**
 * The facts of a recorded encoding (`data.json`'s `preprocessing`), whatever its kind.
 *
 * @example
 * ```ts
 * const facts = encodingFacts(JSON.parse(await readFile('runs/x/data.json', 'utf8')).preprocessing);
 * facts.inputShape; // [7]
 * ```
 */
export function encodingFacts(record: DataEncodingRecord): EncodingFacts {
  switch (record.kind) {
    case 'table': {
      const classNames = record.target.classNames ?? [];
      return {
        kind: 'table',
        task: record.target.task,
        classNames,
        featureNames: record.featureNames,
        inputShape: [record.featureNames.length],
        outputCount: record.target.task === 'classification' ? classNames.length : record.target.columns.length,
        target: record.target.columns,
      };
    }
    case 'arrays': {
      const classNames = record.classNames ?? [];
      return { kind: 'arrays', task: record.task, classNames, featureNames: [], inputShape: record.sampleShape, outputCount: record.task === 'classification' ? classNames.length : (record.targetSize ?? 1), target: ['y'] };
    }
    case 'images':
      return { kind: 'images', task: 'classification', classNames: record.classNames, featureNames: [], inputShape: [...record.size, record.channels], outputCount: record.classNames.length, target: ['class folder'] };
  }
}

/** New rows encoded as a run's training rows were. Tensors are the caller's. */
export interface NewData {
  readonly x: tf.Tensor;
  /** Targets, when the file has them (a table's target column, an .npz's y, class folders of images). */
  readonly y?: tf.Tensor | undefined;
  readonly sampleWeight?: tf.Tensor1D | undefined;
  /** One name per encoded row, for output: `row 3` (rows dropped for missing values are skipped) or the image file. */
  readonly ids: readonly string[];
  readonly warnings: readonly string[];
}

/** How to read the new file; defaults are the training spec's (`header`, `missing`, `delimiter`, array names). */
export type NewDataReader = Partial<Pick<ResolvedDataSpec, 'format' | 'delimiter' | 'header' | 'missing' | 'columns' | 'options' | 'moduleTimeoutMs'>>;

async function newTable(path: string, record: TableEncodingRecord, reader: NewDataReader): Promise<NewData> {
  const format = await detectFormat(path, reader.format);
  const { table } = await readTable(path, format, { delimiter: reader.delimiter, header: reader.header ?? true, missing: reader.missing ?? [...DEFAULT_MISSING] });
  const encoded = restoreTableEncoding(record).apply(table);
  return { x: encoded.x, y: encoded.y, sampleWeight: encoded.sampleWeight, ids: Array.from(encoded.rows, (i) => `row ${table.rowNumber(i)}`), warnings: encoded.warnings };
}

const single = (v: string | readonly string[] | undefined, fallback: string): string => (v === undefined ? fallback : typeof v === 'string' ? v : (v[0] ?? fallback));

async function newArrays(path: string, record: ArrayEncodingRecord, reader: NewDataReader, cwd: string): Promise<NewData> {
  const format = await detectFormat(path, reader.format);
  let data: { x: NdArray; y?: NdArray | undefined; sampleWeight?: NdArray | undefined };
  if (format === 'npz') {
    const arrays = await readNpz(path);
    const xName = single(reader.columns?.features, 'x');
    const x = arrays.get(xName);
    if (x === undefined) throw new FitstreamInputError('data', `${path} has no array ${JSON.stringify(xName)}; it holds ${[...arrays.keys()].map((k) => JSON.stringify(k)).join(', ')}.`);
    data = { x, y: arrays.get(single(reader.columns?.target, 'y')), sampleWeight: arrays.get(reader.columns?.weights ?? 'sample_weight') };
  } else if (format === 'npy') {
    data = { x: await readNpy(path) };
  } else if (format === 'module') {
    const read = await readDataModule(path, { seed: 0, cwd, options: reader.options ?? {}, tf }, { timeoutMs: reader.moduleTimeoutMs });
    data = read.validation ?? read;
  } else {
    throw new FitstreamInputError('data', `${path} is ${format} data, but the run trained on arrays; pass an .npz (x, and y to evaluate), an .npy of inputs or a data module.`);
  }
  const encoded = restoreArrayEncoding(record).apply(data);
  const n = data.x.shape[0] ?? 0;
  return { ...encoded, ids: Array.from({ length: n }, (_, i) => `row ${i + 1}`), warnings: [] };
}

const IMAGE = /\.(png|jpe?g)$/i;

async function imageFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && IMAGE.test(e.name)).map((e) => join(dir, e.name)).sort();
}

async function newImages(path: string, record: ImageEncodingRecord): Promise<NewData> {
  const encoding = restoreEncoding(record);
  if (encoding.kind !== 'images') throw new Error('an image encoding');
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new FitstreamInputError('data', `${path} does not exist.`);
  let files: string[];
  let labels: number[] | undefined;
  if (info.isFile()) {
    if (!IMAGE.test(extname(path))) throw new FitstreamInputError('data', `${path} is not a .png, .jpg or .jpeg image; the run trained on images.`);
    files = [path];
  } else {
    const folders = (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    if (folders.length === 0) files = await imageFiles(path);
    else {
      // Class folders: labelled images (evaluate); each folder must be one of the run's classes.
      files = [];
      labels = [];
      for (const name of folders) {
        const k = record.classNames.indexOf(name);
        if (k < 0) throw new FitstreamInputError('data', `${join(path, name)} is not one of the run's classes (${record.classNames.join(', ')}); name class folders as in training.`);
        for (const f of await imageFiles(join(path, name))) {
          files.push(f);
          labels.push(k);
        }
      }
    }
    if (files.length === 0) throw new FitstreamInputError('data', `${path} holds no .png, .jpg or .jpeg images.`);
  }
  const x = await encoding.applyFiles(files);
  return { x, y: labels ? tf.tensor1d(labels, 'int32') : undefined, ids: files, warnings: [] };
}

/**
 * Reads new data (for `predict` and `evaluate --data`) and encodes it with a run's recorded encoding: rows of a
 * table (CSV/TSV, JSON Lines, JSON rows, a 2-D .npy; the target column optional), arrays (.npz with `x` and optional
 * `y`, an .npy of inputs, a data module), or images (one file, a folder of images, or class folders for labels).
 *
 * @example
 * ```ts
 * const { preprocessing } = JSON.parse(await readFile('runs/fit-1/data.json', 'utf8'));
 * const { x, ids, warnings } = await readNewData('new-rows.csv', preprocessing);
 * ```
 */
export async function readNewData(path: string, record: DataEncodingRecord, options: { readonly reader?: NewDataReader; readonly cwd?: string } = {}): Promise<NewData> {
  const cwd = options.cwd ?? process.cwd();
  const absolute = resolve(cwd, path);
  const reader = options.reader ?? {};
  switch (record.kind) {
    case 'table':
      return newTable(absolute, record, reader);
    case 'arrays':
      return newArrays(absolute, record, reader, cwd);
    case 'images':
      return newImages(absolute, record);
    default:
      throw new Error(`data.json's preprocessing has an unknown kind ${JSON.stringify((record as { kind?: unknown }).kind)}.`);
  }
}
