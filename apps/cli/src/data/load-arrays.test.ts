// Array data (.npy, .npz), image folders and JS/TS data modules through loadUserData: files written in the test (a
// tiny .npy writer, fflate's zip, pngjs' and jpeg-js' encoders; numpy's own files where python3 has numpy).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { zipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArrayEncodingRecord } from './encode-arrays.js';
import { disposeUserData, loadUserData, restoreEncoding, type UserData } from './load-user-data.js';
import { parseNpy, readNpz } from './read-npy.js';
import type { UserDataSpec } from './spec.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-arrays-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** A version-1 .npy: the header padded with spaces to a multiple of 64 bytes, then the raw little-endian data. */
function npy(descr: string, shape: readonly number[], data: ArrayBufferView, fortran = false): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${dims}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

async function inputError(promise: Promise<unknown>): Promise<FitstreamInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FitstreamInputError);
  return error as FitstreamInputError;
}

const load = (spec: UserDataSpec, seed = 3): Promise<UserData> => loadUserData(spec, { seed, cwd: dir });

describe('.npy', () => {
  const cases = [
    { descr: '<f4', dtype: 'float32', data: Float32Array.of(1.5, -2, 3.25, 4, 5, 6) },
    { descr: '<f8', dtype: 'float64', data: Float64Array.of(1.5, -2, 3.25, 4, 5, 6) },
    { descr: '<i4', dtype: 'int32', data: Int32Array.of(1, -2, 3, 4, 5, 6) },
    { descr: '<i8', dtype: 'int64', data: BigInt64Array.of(1n, -2n, 3n, 4n, 5n, 2n ** 40n) },
    { descr: '|u1', dtype: 'uint8', data: Uint8Array.of(1, 2, 3, 4, 5, 255) },
    { descr: '|b1', dtype: 'bool', data: Uint8Array.of(1, 0, 0, 1, 1, 0) },
  ] as const;

  it.each(cases)('reads $dtype', ({ descr, dtype, data }) => {
    // Inside a larger Buffer, as readFile's may be: the reader copies its bytes out rather than viewing the pool.
    const bytes = npy(descr, [3, 2], data);
    const pooled = Buffer.concat([Buffer.alloc(3), Buffer.from(bytes)]).subarray(3);
    const array = parseNpy(pooled, `${dtype}.npy`);
    expect(array.dtype).toBe(dtype);
    expect(array.shape).toEqual([3, 2]);
    expect(Array.from(array.data)).toEqual(Array.from(data, Number));
  });

  it('refuses Fortran order, objects, big-endian and other dtypes with the numpy fix', () => {
    const f = () => parseNpy(npy('<f4', [2, 2], new Float32Array(4), true), 'f.npy');
    expect(f).toThrow(/Fortran order.*np\.ascontiguousarray/);
    expect(() => parseNpy(npy('|O', [2], new Uint8Array(16)), 'o.npy')).toThrow(/Python objects/);
    expect(() => parseNpy(npy('>f4', [2], new Float32Array(2)), 'b.npy')).toThrow(/big-endian/);
    expect(() => parseNpy(npy('<f2', [2], new Uint16Array(2)), 'h.npy')).toThrow(/dtype <f2.*astype\(np\.float32\)/);
    expect(() => parseNpy(new Uint8Array(20), 'x.npy')).toThrow(/not a \.npy file/);
    expect(() => parseNpy(npy('<f4', [4, 4], new Float32Array(3)), 't.npy')).toThrow(/truncated/);
  });

  it('a 2-D .npy is a table with columns column_1 …', async () => {
    const rows = 20;
    const values = new Float64Array(rows * 3);
    for (let r = 0; r < rows; r++) values.set([r, r * 2, r % 2], r * 3);
    const path = file('table.npy', npy('<f8', [rows, 3], values));
    const data = await load({ path, columns: { target: 'column_3' }, split: { validation: 0.25 } });
    expect(data.task).toBe('classification');
    expect(data.train.x.shape).toEqual([15, 2]);
    disposeUserData(data);
  });
});

/** x [n, 2, 2] float32 (class 1 samples are larger), y int64, sample weights float64. */
function arrays(n: number) {
  const x = new Float32Array(n * 4);
  const y = new BigInt64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = BigInt(i % 2);
    w[i] = 1 + (i % 3);
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (i % 2) * 10 + j + i / n;
  }
  return { x, y, w };
}

describe('.npz', () => {
  it('maps x, y and sample_weight to roles, stored or deflated', async () => {
    const { x, y, w } = arrays(20);
    const entries = { 'x.npy': npy('<f4', [20, 2, 2], x), 'y.npy': npy('<i8', [20], y), 'sample_weight.npy': npy('<f8', [20], w) };
    for (const level of [0, 6] as const) {
      const path = file(`data-${level}.npz`, zipSync(entries, { level }));
      const data = await load({ path, split: { validation: 0.25 } });
      expect(data.task).toBe('classification');
      expect(data.classNames).toEqual(['0', '1']);
      expect(data.inputShape).toEqual([2, 2]);
      expect(data.train.x.shape).toEqual([15, 2, 2]);
      expect(data.validation.y.dtype).toBe('int32');
      // Stratified: 2 or 3 of each class among 5.
      const yVal = (await data.validation.y.array()) as number[];
      expect(Math.abs(yVal.filter((v) => v === 1).length - 2.5)).toBeLessThanOrEqual(0.5);
      // Each sample keeps its label and weight: class 1 samples are the large ones; weights are 1..3.
      const xTrain = (await data.train.x.array()) as number[][][];
      const yTrain = (await data.train.y.array()) as number[];
      xTrain.forEach((s, i) => expect(s[0]![0]! >= 10).toBe(yTrain[i] === 1));
      expect(data.train.sampleWeight?.shape).toEqual([15]);
      expect(new Set(await data.train.sampleWeight!.array()).size).toBe(3);
      expect((data.info.preprocessing as ArrayEncodingRecord).scale).toBe('none');
      disposeUserData(data);
    }
  });

  it('takes other array names from data.columns, and lists the names when one is missing', async () => {
    const { x, y } = arrays(10);
    const path = file('named.npz', zipSync({ 'images.npy': npy('<f4', [10, 2, 2], x), 'labels.npy': npy('<i8', [10], y) }));
    const error = await inputError(load({ path }));
    expect(error.argument).toBe('data.columns.features');
    expect(error.message).toContain('has no array "x"; it holds "images", "labels"');
    const data = await load({ path, columns: { features: 'images', target: 'labels' }, split: { validation: 0.2 } });
    expect(data.train.x.shape).toEqual([8, 2, 2]);
    disposeUserData(data);
  });

  it('standard scaling is fitted per element on the training samples, and the encoding re-applies it', async () => {
    const { x, y } = arrays(20);
    const path = file('scaled.npz', zipSync({ 'x.npy': npy('<f4', [20, 2, 2], x), 'y.npy': npy('<i8', [20], y) }));
    const data = await load({ path, scale: 'standard', split: { validation: 0.25 } });
    const moments = tf.tidy(() => {
      const { mean, variance } = tf.moments(data.train.x, 0);
      return { mean: mean.flatten().arraySync(), variance: variance.flatten().arraySync() };
    });
    moments.mean.forEach((m) => expect(m).toBeCloseTo(0, 4));
    moments.variance.forEach((v) => expect(v).toBeCloseTo(1, 3));
    const encoding = restoreEncoding(JSON.parse(JSON.stringify(data.info.preprocessing)));
    if (encoding.kind !== 'arrays') throw new Error('arrays');
    const again = encoding.apply({ x: { dtype: 'float32', shape: [20, 2, 2], data: x } });
    expect(again.x.shape).toEqual([20, 2, 2]);
    again.x.dispose();
    disposeUserData(data);
  });

  it('NaN values are listed, or their samples dropped', async () => {
    const { x, y } = arrays(12);
    x[2 * 4 + 1] = NaN;
    const path = file('nan.npz', zipSync({ 'x.npy': npy('<f4', [12, 2, 2], x), 'y.npy': npy('<i8', [12], y) }));
    const error = await inputError(load({ path }));
    expect(error.message).toContain('row 3, column "x[1]"');
    const data = await load({ path, onMissing: 'drop-rows', split: { validation: 3 } });
    expect(data.train.x.shape[0]! + data.validation.x.shape[0]!).toBe(11);
    disposeUserData(data);
  });

  const numpy = (() => {
    try {
      execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore', timeout: 20_000 });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!numpy)('reads numpy’s own savez_compressed archive', async () => {
    const path = join(dir, 'numpy.npz');
    const script = `import numpy as np
x = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
np.savez_compressed(${JSON.stringify(path)}, x=x, y=np.array([0, 1, 2, 0, 1, 2], dtype=np.int64), b=np.array([True, False]), d=np.array([[1.5, 2.5]]), u=np.array([7, 255], dtype=np.uint8), i=np.array([-3], dtype=np.int32))`;
    execFileSync('python3', ['-c', script], { timeout: 30_000 });
    const read = await readNpz(path);
    expect(Array.from(read.get('x')!.data)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(read.get('x')!.shape).toEqual([6, 2, 2]);
    expect(read.get('y')).toMatchObject({ dtype: 'int64', shape: [6] });
    expect(Array.from(read.get('b')!.data)).toEqual([1, 0]);
    expect(Array.from(read.get('d')!.data)).toEqual([1.5, 2.5]);
    expect(Array.from(read.get('u')!.data)).toEqual([7, 255]);
    expect(Array.from(read.get('i')!.data)).toEqual([-3]);
  });
});

describe('image folders', () => {
  /** Solid-colour images with a little noise-free gradient, PNG or JPEG. */
  function image(kind: 'png' | 'jpg', width: number, height: number, rgb: [number, number, number]): Uint8Array {
    const data = new Uint8Array(width * height * 4);
    for (let p = 0; p < width * height; p++) data.set([...rgb, 255], p * 4);
    if (kind === 'png') {
      const png = new PNG({ width, height });
      png.data.set(data);
      return PNG.sync.write(png);
    }
    return jpeg.encode({ width, height, data }, 95).data;
  }

  const root = join(dir, 'shapes');
  // Class folders sorted: "blue" = 0, "red" = 1; sizes and formats mixed.
  for (let i = 0; i < 6; i++) {
    file(join('shapes', 'red', `r${i}.${i % 2 ? 'png' : 'jpg'}`), image(i % 2 ? 'png' : 'jpg', 10 + i, 12, [230, 20, 20]));
    file(join('shapes', 'blue', `b${i}.${i % 2 ? 'jpeg' : 'png'}`), image(i % 2 ? 'jpg' : 'png', 16, 9 + i, [20, 20, 230]));
  }
  file(join('shapes', 'red', 'notes.txt'), 'not an image');

  it('reads PNGs and JPEGs resized to [h, w, c] in [0, 1], labelled by sorted class folder', async () => {
    const data = await load({ path: root, images: { size: [8, 8], channels: 3 }, split: { validation: 4 } });
    expect(data.classNames).toEqual(['blue', 'red']);
    expect(data.task).toBe('classification');
    expect(data.inputShape).toEqual([8, 8, 3]);
    expect(data.train.x.shape).toEqual([8, 8, 8, 3]);
    expect(data.validation.x.shape).toEqual([4, 8, 8, 3]);
    const means = tf.tidy(() => tf.mean(data.train.x, [1, 2]).arraySync() as number[][]);
    const labels = (await data.train.y.array()) as number[];
    means.forEach(([r, , b], i) => {
      expect(r! >= 0 && r! <= 1 && b! >= 0 && b! <= 1).toBe(true);
      expect(labels[i]).toBe(r! > b! ? 1 : 0);
    });
    expect(data.warnings[0]).toContain('skipped 1 file that are not .png, .jpg or .jpeg');
    disposeUserData(data);

    const grey = await load({ path: root, images: { size: [5, 7], channels: 1 }, split: { validation: 4 } });
    expect(grey.train.x.shape).toEqual([8, 5, 7, 1]);
    const encoding = grey.encoding;
    if (encoding.kind !== 'images') throw new Error('images');
    const one = await encoding.applyFiles([join(root, 'red', 'r1.png')]);
    expect(one.shape).toEqual([1, 5, 7, 1]);
    one.dispose();
    disposeUserData(grey);
  });

  it('an unreadable image is an error naming the file; the size is required', async () => {
    const broken = join(dir, 'broken');
    file(join('broken', 'a', 'ok.png'), image('png', 4, 4, [1, 2, 3]));
    file(join('broken', 'b', 'bad.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const error = await inputError(load({ path: broken, images: { size: [4, 4] } }));
    expect(error.message).toContain(join(broken, 'b', 'bad.png'));
    expect((await inputError(load({ path: root }))).argument).toBe('data.images');
  });
});

describe('data modules', () => {
  it('runs a TypeScript module exporting a function (no build step)', async () => {
    const path = file(
      'make-data.ts',
      `interface Context { readonly seed: number; readonly options: { readonly n?: number }; readonly tf: typeof import('@tensorflow/tfjs') }
export default function make({ tf, seed, options }: Context) {
  const n: number = options.n ?? 30;
  const x = tf.tensor2d(Array.from({ length: n }, (_, i) => [i, seed]), [n, 2]);
  const y = Array.from({ length: n }, (_, i): number => i % 3);
  return { x, y };
}
`,
    );
    const before = tf.memory().numTensors;
    const data = await load({ path, options: { n: 24 }, split: { validation: 0.25 } }, 5);
    expect(data.task).toBe('classification');
    expect(data.classNames).toEqual(['0', '1', '2']);
    expect(data.train.x.shape).toEqual([18, 2]);
    const x = (await data.train.x.array()) as number[][];
    expect(x.every((r) => r[1] === 5)).toBe(true); // the seed reached the module
    disposeUserData(data);
    for (let i = 0; i < 2; i++) disposeUserData(await load({ path, options: { n: 24 } }, 5));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes a named `data` export of nested arrays, { train, validation }, and a tf.data.Dataset', async () => {
    const js = file('named.mjs', `export const data = { train: { x: [[1], [2], [3], [4]], y: [1.5, 2.5, 3.5, 4.5] }, validation: { x: [[5], [6]], y: [5.5, 6.5] } };\n`);
    const a = await load({ path: js });
    expect(a.task).toBe('regression');
    expect(a.validation.y.shape).toEqual([2, 1]);
    expect(a.info['split']).toMatchObject({ from: 'the data module' });
    disposeUserData(a);

    const ts = file(
      'dataset.ts',
      `export default ({ tf }: { tf: typeof import('@tensorflow/tfjs') }) =>
  tf.data.array(Array.from({ length: 40 }, (_, i) => ({ xs: [i, i * 2], ys: i % 2 }))).batch(8);
`,
    );
    const before = tf.memory().numTensors;
    const b = await load({ path: ts });
    expect(b.train.x.shape).toEqual([32, 2]);
    expect(b.classNames).toEqual(['0', '1']);
    disposeUserData(b);
    expect(tf.memory().numTensors).toBe(before); // each batch's tensors are disposed once read
  });

  it('says what a module must export', async () => {
    const path = file('empty.mjs', 'export const other = 1;\n');
    const error = await inputError(load({ path }));
    expect(error.message).toContain('exports neither a default nor `data` (it exports: other)');
    const broken = file('broken.ts', 'export default (: number) => 1;\n');
    expect((await inputError(load({ path: broken }))).message).toContain('failed to load');
    // A module that never gives its data is an error after data.moduleTimeoutMs, not a hang.
    const hung = file('hung.mjs', 'export default () => new Promise(() => {});\n');
    const late = await inputError(load({ path: hung, moduleTimeoutMs: 200 }));
    expect(late.argument).toBe('data.moduleTimeoutMs');
  });
});
