import { readFile } from 'node:fs/promises';
import { FitstreamInputError } from '@fitstream/core';
import { unzipSync } from 'fflate';
import { createTable, type Cell, type NdArray, type NpyDtype, type Table } from './table.js';

// The .npy format is a 10–12 byte preamble, a Python-literal header and raw C-order data
// (numpy.lib.format, "NEP 1"); a parser for its one header line is smaller than any dependency that would bring it.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Little-endian (or byte-order-free) descriptors → dtype and bytes per element. */
const DTYPES: Readonly<Record<string, { dtype: NpyDtype; bytes: number }>> = {
  '<f4': { dtype: 'float32', bytes: 4 },
  '<f8': { dtype: 'float64', bytes: 8 },
  '<i4': { dtype: 'int32', bytes: 4 },
  '<i8': { dtype: 'int64', bytes: 8 },
  '|u1': { dtype: 'uint8', bytes: 1 },
  '<u1': { dtype: 'uint8', bytes: 1 },
  '|b1': { dtype: 'bool', bytes: 1 },
};

const SUPPORTED = 'float32, float64, int32, int64, uint8 and bool';

/**
 * Parses the bytes of a `.npy` file (format versions 1–3): float32, float64, int32, int64, uint8 or bool, little-endian,
 * C order. Fortran-order, object, structured, big-endian and other dtypes are refused with the numpy call that fixes
 * them. `name` names the array in messages.
 *
 * @example
 * ```ts
 * const array = parseNpy(await readFile('x.npy'), 'x.npy'); // { dtype: 'float32', shape: [150, 4], data: Float32Array }
 * ```
 */
export function parseNpy(bytes: Uint8Array, name: string): NdArray {
  const bad = (why: string) => new FitstreamInputError('data.path', `${name}: ${why}`);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad('is not a .npy file (no \\x93NUMPY magic); save arrays with numpy.save or numpy.savez.');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad(`has .npy format version ${major}.${bytes[7]}, which this reader does not know (1–3).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLength;
  if (start > bytes.length) throw bad('is truncated inside its header.');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(major === 1 ? 10 : 12, start));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr === undefined) throw bad(`has a structured dtype (${header.trim()}); save plain numeric arrays, one per field.`);
  if (/^[|<>=]?O/.test(descr)) throw bad(`holds Python objects (dtype object); convert it to numbers first, e.g. np.asarray(a, dtype=np.float32).`);
  if (descr.startsWith('>')) throw bad(`is big-endian (${descr}); save it little-endian: a.astype(a.dtype.newbyteorder('<')).`);
  const type = DTYPES[descr];
  if (type === undefined) throw bad(`has dtype ${descr}; this reader takes ${SUPPORTED}. Convert it, e.g. a.astype(np.float32).`);
  if (/'fortran_order'\s*:\s*True/.test(header)) throw bad('is in Fortran order; save it in C order: np.save(path, np.ascontiguousarray(a)).');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) throw bad(`has no shape in its header (${header.trim()}).`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`has an unreadable shape (${shapeText}).`);
  const count = shape.reduce((a, b) => a * b, 1);
  const end = start + count * type.bytes;
  if (end > bytes.length) throw bad(`is truncated: its header promises ${count} values of ${type.bytes} bytes (shape [${shape.join(', ')}]), the file has ${bytes.length - start} bytes of data.`);
  // A copy starts at offset 0 of its own buffer, so the typed views are aligned whatever the header length was (and a
  // Node Buffer's slice() would be a view of its whole pool, not a copy).
  const raw = new ArrayBuffer(end - start);
  new Uint8Array(raw).set(bytes.subarray(start, end));
  switch (type.dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: new Float32Array(raw) };
    case 'float64':
      return { dtype: 'float64', shape, data: new Float64Array(raw) };
    case 'int32':
      return { dtype: 'int32', shape, data: new Int32Array(raw) };
    case 'int64': {
      const wide = new BigInt64Array(raw);
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = wide[i]!;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw bad(`element ${i} (${v}) is beyond ±2^53 and would lose precision; store it as float64 or smaller integers.`);
        data[i] = Number(v);
      }
      return { dtype: 'int64', shape, data };
    }
    default:
      return { dtype: type.dtype, shape, data: new Uint8Array(raw) };
  }
}

async function bytesOf(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new FitstreamInputError('data.path', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Reads one `.npy` file.
 *
 * @example
 * ```ts
 * const { shape, data } = await readNpy('features.npy');
 * ```
 */
export async function readNpy(path: string): Promise<NdArray> {
  return parseNpy(await bytesOf(path), path);
}

/**
 * Reads an `.npz` archive (`numpy.savez` or `savez_compressed`): its arrays by name, without the `.npy` suffix.
 *
 * @example
 * ```ts
 * const arrays = await readNpz('data.npz'); // Map { 'x' => …, 'y' => … }
 * ```
 */
export async function readNpz(path: string): Promise<Map<string, NdArray>> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(await bytesOf(path));
  } catch (error) {
    throw new FitstreamInputError('data.path', `${path} is not a readable .npz (zip) archive: ${(error as Error).message}. Write it with numpy.savez(path, x=x, y=y).`);
  }
  const arrays = new Map<string, NdArray>();
  for (const [entry, bytes] of Object.entries(files)) {
    if (!entry.endsWith('.npy')) continue;
    arrays.set(entry.slice(0, -4), parseNpy(bytes, `${path}:${entry}`));
  }
  if (arrays.size === 0) throw new FitstreamInputError('data.path', `${path} holds no .npy arrays; write it with numpy.savez(path, x=x, y=y).`);
  return arrays;
}

/**
 * A 2-D array as a table: one column per array column, named `column_1 … column_k` (as a CSV without a header), so
 * that the column roles name the target (`--target column_5`). NaN is a missing value.
 *
 * @example
 * ```ts
 * const table = npyTable(await readNpy('rows.npy'), 'rows.npy'); // columns column_1 … column_5
 * ```
 */
export function npyTable(array: NdArray, path: string): Table {
  if (array.shape.length !== 2) {
    throw new FitstreamInputError('data.path', `${path} holds an array of shape [${array.shape.join(', ')}]; a single .npy is read as a table of rows × columns (2-D). For images or other n-D inputs, put x and y in an .npz: numpy.savez('data.npz', x=x, y=y).`);
  }
  const [rows, width] = array.shape as [number, number];
  const columns = Array.from({ length: width }, (_, c) => Array.from({ length: rows }, (_, r): Cell => {
    const v = array.data[r * width + c]!;
    return Number.isNaN(v) ? null : v;
  }));
  return createTable(path, columns.map((_, c) => `column_${c + 1}`), columns);
}
