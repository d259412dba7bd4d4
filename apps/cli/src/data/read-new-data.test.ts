// predict / evaluate --data: new files encoded with the encoding a training load recorded (through JSON, as data.json
// keeps it), for tables, arrays and images.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/core';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeUserData, loadUserData, type DataEncodingRecord } from './load-user-data.js';
import { encodingFacts, readNewData } from './read-new-data.js';

const dir = mkdtempSync(join(tmpdir(), 'fitstream-new-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** Trains a load, keeps its record as data.json would, and disposes the tensors. */
async function recorded(spec: Parameters<typeof loadUserData>[0]): Promise<DataEncodingRecord> {
  const data = await loadUserData(spec, { seed: 1, cwd: dir });
  disposeUserData(data);
  return JSON.parse(JSON.stringify(data.info.preprocessing)) as DataEncodingRecord;
}

describe('readNewData', () => {
  it('encodes table rows with or without the target, naming rows; facts for the model', async () => {
    const lines = ['size;colour;price', ...Array.from({ length: 20 }, (_, i) => `${i};${['red', 'blue'][i % 2]};${i * 2.5}`)];
    const record = await recorded({ path: file('train.csv', lines.join('\n')), columns: { target: 'price' } });
    expect(encodingFacts(record)).toMatchObject({ kind: 'table', task: 'regression', featureNames: ['size', 'colour=blue', 'colour=red'], inputShape: [3], outputCount: 1, target: ['price'] });
    const before = tf.memory().numTensors;
    const predict = await readNewData('new.csv', record, { cwd: dir, reader: {} }).catch((e: unknown) => e);
    expect(predict).toBeInstanceOf(FitstreamInputError); // no such file yet
    file('new.csv', 'colour;size\nblue;3\nred;NA\nred;4\n');
    const error = await readNewData('new.csv', record, { cwd: dir }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('row 2, column "size"');
    const labelled = await readNewData(file('labelled.jsonl', '{"size": 3, "colour": "blue", "price": 7.5}\n{"size": 4, "colour": "red", "price": 10}\n'), record);
    expect(labelled.x.shape).toEqual([2, 3]);
    expect(await labelled.y!.array()).toEqual([[7.5], [10]]);
    expect(labelled.ids).toEqual(['row 1', 'row 2']);
    tf.dispose([labelled.x, labelled.y!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('encodes arrays from an .npz (y optional) with the recorded scaling', async () => {
    const n = 12;
    const x = Float32Array.from({ length: n * 3 }, (_, i) => i);
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    const npy = (descr: string, shape: number[], data: ArrayBufferView) => {
      let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.length === 1 ? `${shape[0]},` : shape.join(', ')}), }`;
      header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
      const out = new Uint8Array(10 + header.length + data.byteLength);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
      out.set(new TextEncoder().encode(header), 10);
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
      return out;
    };
    const record = await recorded({ path: file('train.npz', zipSync({ 'x.npy': npy('<f4', [n, 3], x), 'y.npy': npy('<i4', [n], y) })), scale: 'minmax', split: { validation: 4 } });
    expect(encodingFacts(record)).toMatchObject({ kind: 'arrays', task: 'classification', inputShape: [3], outputCount: 2 });
    const fresh = await readNewData(file('new.npz', zipSync({ 'x.npy': npy('<f4', [2, 3], Float32Array.of(0, 1, 2, 33, 34, 35)) })), record);
    expect(fresh.y).toBeUndefined();
    const values = (await fresh.x.array()) as number[][];
    values.flat().forEach((v) => expect(v).toBeGreaterThanOrEqual(-0.2));
    fresh.x.dispose();
    const wrong = await readNewData(file('wrong.npz', zipSync({ 'x.npy': npy('<f4', [1, 2], Float32Array.of(1, 2)) })), record).catch((e: unknown) => e);
    expect((wrong as Error).message).toContain('the model was trained on [3]');
  });

  it('reads one image, a folder of images, or class folders (with labels)', async () => {
    const png = (rgb: [number, number, number]) => {
      const image = new PNG({ width: 6, height: 6 });
      for (let p = 0; p < 36; p++) image.data.set([...rgb, 255], p * 4);
      return PNG.sync.write(image);
    };
    for (let i = 0; i < 4; i++) {
      file(join('train-images', 'dark', `${i}.png`), png([10, 10, 10]));
      file(join('train-images', 'light', `${i}.png`), png([240, 240, 240]));
    }
    const record = await recorded({ path: join(dir, 'train-images'), images: { size: [4, 4], channels: 1 }, split: { validation: 2 } });
    expect(encodingFacts(record)).toMatchObject({ kind: 'images', classNames: ['dark', 'light'], inputShape: [4, 4, 1], outputCount: 2 });
    const one = await readNewData(join(dir, 'train-images', 'light', '0.png'), record);
    expect(one.x.shape).toEqual([1, 4, 4, 1]);
    expect(one.ids).toEqual([join(dir, 'train-images', 'light', '0.png')]);
    const labelled = await readNewData(join(dir, 'train-images'), record);
    expect(await labelled.y!.array()).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    file(join('loose', 'a.png'), png([100, 100, 100]));
    const loose = await readNewData(join(dir, 'loose'), record);
    expect(loose.x.shape).toEqual([1, 4, 4, 1]);
    expect(loose.y).toBeUndefined();
    tf.dispose([one.x, labelled.x, labelled.y!, loose.x]);
    file(join('unknown', 'cats', 'a.png'), png([1, 1, 1]));
    const error = await readNewData(join(dir, 'unknown'), record).catch((e: unknown) => e);
    expect((error as Error).message).toContain("is not one of the run's classes (dark, light)");
  });
});
