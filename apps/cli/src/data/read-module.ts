import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import type { ArrayData, NdArray, NpyDtype } from './table.js';

/** What a data module's function receives. */
export interface DataModuleContext {
  /** The run seed: derive any randomness from it. */
  readonly seed: number;
  /** The directory relative paths are resolved against. */
  readonly cwd: string;
  /** `data.options` of the configuration. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The CLI's TensorFlow.js: tensors made with it need no copy (a module's own `@tensorflow/tfjs` works too). */
  readonly tf: typeof tf;
}

/** Options of {@link readDataModule}. */
export interface DataModuleOptions {
  /** The longest the module may take to import, run and give its data (a hung module is an error, not a hang). */
  readonly timeoutMs?: number | undefined;
}

/** The default of {@link DataModuleOptions.timeoutMs}: 30 minutes. */
export const DATA_MODULE_TIMEOUT_MS = 30 * 60_000;

/** Settles with `work`, or rejects once `ms` have passed (the timer does not keep the process alive). */
async function bounded<T>(work: Promise<T>, ms: number, path: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FitstreamInputError('data.moduleTimeoutMs', `the data module ${path} did not give its data within ${ms} ms; make it faster, or raise data.moduleTimeoutMs.`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Elements read from a `tf.data.Dataset` at most; a dataset that never ends (`repeat()`) is an error, not a hang. */
export const MAX_DATASET_ELEMENTS = 10_000_000;

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  dataSync(): ArrayLike<number>;
  dispose(): void;
}

interface DatasetLike {
  iterator(): Promise<{ next(): Promise<IteratorResult<unknown>> }>;
  readonly size: number | null;
}

const isTensorLike = (v: unknown): v is TensorLike =>
  typeof v === 'object' && v !== null && Array.isArray((v as TensorLike).shape) && typeof (v as TensorLike).dtype === 'string' && typeof (v as TensorLike).dataSync === 'function';
const isDataset = (v: unknown): v is DatasetLike => typeof v === 'object' && v !== null && typeof (v as DatasetLike).iterator === 'function' && 'size' in v;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Imports the module: TypeScript through tsx's ESM API (no build step), JavaScript with `import()`. */
async function importModule(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    if (TS_EXTENSIONS.has(extname(path).toLowerCase())) {
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new FitstreamInputError('data.path', `the data module ${path} failed to load: ${(error as Error).message}`);
  }
}

/** Nested number arrays → an array, checking that every row has the same shape. */
function fromNested(value: readonly unknown[], what: string): NdArray {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = (level as unknown[])[0]) shape.push((level as unknown[]).length);
  const flat = (value as unknown[]).flat(Infinity) as unknown[];
  const count = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== count || flat.some((v) => typeof v !== 'number' && typeof v !== 'boolean')) {
    throw new FitstreamInputError('data.path', `${what} is a ragged or non-numeric array; every row needs the same shape (${shape.join(' × ')}) of numbers.`);
  }
  return { dtype: 'float64', shape, data: Float64Array.from(flat as number[]) };
}

/** A tensor (of any tfjs instance), nested arrays or a typed array (one value per sample) → an {@link NdArray}. */
function toArray(value: unknown, what: string, owned: TensorLike[]): NdArray {
  if (isTensorLike(value)) {
    owned.push(value);
    const data = value.dataSync();
    const dtype: NpyDtype = value.dtype === 'int32' ? 'int32' : value.dtype === 'bool' ? 'bool' : 'float32';
    const typed = dtype === 'int32' ? Int32Array.from(data) : dtype === 'bool' ? Uint8Array.from(data) : Float32Array.from(data);
    return { dtype, shape: [...value.shape], data: typed };
  }
  if (value instanceof Float32Array) return { dtype: 'float32', shape: [value.length], data: value };
  if (value instanceof Float64Array) return { dtype: 'float64', shape: [value.length], data: value };
  if (value instanceof Int32Array) return { dtype: 'int32', shape: [value.length], data: value };
  if (value instanceof Uint8Array) return { dtype: 'uint8', shape: [value.length], data: value };
  if (Array.isArray(value)) return fromNested(value, what);
  throw new FitstreamInputError('data.path', `${what} is ${value === undefined ? 'missing' : typeof value}; give a tensor, nested number arrays or a typed array.`);
}

/** Concatenates arrays along the first axis. */
function concat(parts: readonly NdArray[]): NdArray {
  const first = parts[0]!;
  const rest = first.shape.slice(1);
  const total = parts.reduce((a, p) => a + p.data.length, 0);
  const data = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { dtype: first.dtype === 'int32' || first.dtype === 'bool' || first.dtype === 'uint8' ? first.dtype : 'float64', shape: [parts.reduce((a, p) => a + p.shape[0]!, 0), ...rest], data: first.dtype === 'int32' ? Int32Array.from(data) : first.dtype === 'bool' || first.dtype === 'uint8' ? Uint8Array.from(data) : data };
}

/** Adds a leading axis of 1 (one sample). */
const asBatch = (a: NdArray): NdArray => ({ ...a, shape: [1, ...a.shape] });

/**
 * Reads a `tf.data.Dataset` to its end (at most {@link MAX_DATASET_ELEMENTS} elements). Elements are `{ xs, ys }` or
 * `{ x, y }`; they are batches when `x` has rank ≥ 2 and `y` has rank ≥ 1 with the same first dimension, else samples.
 */
async function readDataset(dataset: DatasetLike, what: string): Promise<{ x: NdArray; y: NdArray; batched: boolean }> {
  if (dataset.size === Infinity) throw new FitstreamInputError('data.path', `${what} is an infinite tf.data.Dataset (repeat()); give a finite one: fitstream repeats epochs itself.`);
  const iterator = await dataset.iterator();
  const xs: NdArray[] = [];
  const ys: NdArray[] = [];
  let batched: boolean | undefined;
  for (let n = 0; ; n++) {
    if (n >= MAX_DATASET_ELEMENTS) throw new FitstreamInputError('data.path', `${what} gave more than ${MAX_DATASET_ELEMENTS} elements; is it infinite (repeat())? Give a finite dataset.`);
    const step: IteratorResult<unknown> = await iterator.next();
    if (step.done === true) break;
    const value: unknown = step.value;
    if (!isRecord(value)) throw new FitstreamInputError('data.path', `${what}: element ${n + 1} is not an object; elements are { xs, ys } (or { x, y }).`);
    const owned: TensorLike[] = [];
    const x = toArray(value['xs'] ?? value['x'], `${what}: element ${n + 1}'s xs`, owned);
    const y = toArray(value['ys'] ?? value['y'], `${what}: element ${n + 1}'s ys`, owned);
    for (const t of owned) t.dispose(); // The dataset made them for this element; nothing else holds them.
    batched ??= x.shape.length >= 2 && y.shape.length >= 1 && x.shape[0] === y.shape[0];
    xs.push(batched ? x : asBatch(x));
    ys.push(batched ? y : asBatch(y));
  }
  if (xs.length === 0) throw new FitstreamInputError('data.path', `${what} is an empty tf.data.Dataset.`);
  return { x: concat(xs), y: concat(ys), batched: batched === true };
}

interface Pair {
  x: NdArray;
  y: NdArray;
  sampleWeight?: NdArray | undefined;
}

async function pairOf(value: unknown, what: string, owned: TensorLike[]): Promise<Pair> {
  if (isDataset(value)) return readDataset(value, what);
  if (!isRecord(value)) throw new FitstreamInputError('data.path', `${what} is ${Array.isArray(value) ? 'an array' : typeof value}; give { x, y }, a tf.data.Dataset, { train, validation } of those, or a function returning one.`);
  const x = toArray(value['x'] ?? value['xs'], `${what}.x`, owned);
  const y = toArray(value['y'] ?? value['ys'], `${what}.y`, owned);
  const weights = value['sampleWeight'] ?? value['sample_weight'];
  return { x, y, ...(weights === undefined ? {} : { sampleWeight: toArray(weights, `${what}.sampleWeight`, owned) }) };
}

/**
 * Loads a JS or TS data module (TypeScript through tsx, no build step). Its default export, or its export named
 * `data`, is `{ x, y, sampleWeight? }` (tensors, nested arrays or typed arrays), a finite `tf.data.Dataset` of
 * `{ xs, ys }`, `{ train, validation }` of those, or a function of a {@link DataModuleContext} returning (a promise of)
 * one of them. Tensors a function returns are disposed once copied; those of an exported object belong to the module.
 *
 * @example
 * ```ts
 * // data.ts: export default ({ tf, seed }) => ({ x: tf.randomNormal([100, 4], 0, 1, 'float32', seed), y: labels });
 * const data = await readDataModule('data.ts', { seed: 42, cwd: process.cwd(), options: {}, tf });
 * ```
 */
export async function readDataModule(path: string, context: DataModuleContext, options: DataModuleOptions = {}): Promise<ArrayData> {
  return bounded(readModule(path, context), options.timeoutMs ?? DATA_MODULE_TIMEOUT_MS, path);
}

async function readModule(path: string, context: DataModuleContext): Promise<ArrayData> {
  let module = await importModule(path);
  // A .ts/.js file outside an ESM package is CommonJS: its exports arrive as the namespace's default.
  const inner = module['default'];
  if (isRecord(inner) && ('default' in inner || 'data' in inner) && !('x' in inner) && !('train' in inner)) module = inner;
  const exported = module['default'] ?? module['data'];
  if (exported === undefined) {
    throw new FitstreamInputError('data.path', `the data module ${path} exports neither a default nor \`data\` (it exports: ${Object.keys(module).join(', ') || 'nothing'}); add \`export default\` of { x, y }, a tf.data.Dataset or a function returning one.`);
  }
  const fresh = typeof exported === 'function';
  const value: unknown = fresh ? await (exported as (c: DataModuleContext) => unknown)(context) : exported;
  const owned: TensorLike[] = [];
  try {
    if (isRecord(value) && 'train' in value) {
      if (!('validation' in value)) throw new FitstreamInputError('data.path', `the data module ${path} gives train without validation; give both, or one { x, y } for fitstream to split.`);
      const train = await pairOf(value['train'], `${path}: train`, owned);
      const validation = await pairOf(value['validation'], `${path}: validation`, owned);
      return { kind: 'arrays', source: path, ...train, validation };
    }
    return { kind: 'arrays', source: path, ...(await pairOf(value, path, owned)) };
  } finally {
    if (fresh) for (const t of owned) t.dispose();
  }
}
