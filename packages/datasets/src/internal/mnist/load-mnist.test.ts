import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from './load-mnist.js';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'fitstream-mnist-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadMnist', () => {
  it('returns the package’s 10 000 digits as [n, 28, 28, 1] float32 in [0, 1] and int32 labels, ordered by class', async () => {
    const data = await loadMnist({ cache: dir });
    expect(data.cache.status).toBe('miss');
    expect(data.x.shape).toEqual([10_000, 28, 28, 1]);
    expect(data.x.dtype).toBe('float32');
    expect(data.y.dtype).toBe('int32');
    const [min, max] = tf.tidy(() => [data.x.min().dataSync()[0], data.x.max().dataSync()[0]]);
    expect([min, max]).toEqual([0, 1]);
    const labels = Array.from(await data.y.data());
    expect(labels).toEqual([...labels].sort((a, b) => a - b));
    expect(data.metadata.classCounts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(data.metadata).toMatchObject({ name: 'mnist', samples: 10_000, source: { package: 'mnist', version: '1.1.0', licence: 'MIT' } });
    expect(data.metadata.description).toMatch(/10 000 of MNIST’s 70 000/);
    expect(JSON.parse(JSON.stringify(data.metadata))).toEqual(data.metadata);
    tf.dispose([data.x, data.y]);
  });

  it('recovers the package’s pixels exactly (byte / 255, the package rounds to 3 decimals)', async () => {
    const raw = JSON.parse(await readFile(createRequire(import.meta.url).resolve('mnist/src/digits/3.json'), 'utf8')) as { data: number[] };
    const data = await loadMnist({ cache: dir });
    expect(data.cache.status).toBe('hit');
    const first3 = 1001 + 1127 + 991; // rows of digits 0, 1, 2 come first
    const image = Array.from(tf.tidy(() => data.x.slice([first3, 0, 0, 0], [1, 28, 28, 1]).dataSync()));
    image.forEach((v, i) => expect(Math.abs(v - raw.data[i]!)).toBeLessThan(6e-4));
    tf.dispose([data.x, data.y]);
  });

  it('takes a class-balanced subset: proportional shares by largest remainder, the first images of each class', async () => {
    const data = await loadMnist({ subset: 2000, cache: dir });
    expect(data.x.shape).toEqual([2000, 28, 28, 1]);
    expect(data.metadata.classCounts).toEqual([200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
    const full = await loadMnist({ cache: dir });
    const same = tf.tidy(() => tf.equal(data.x.slice([0], [200]), full.x.slice([0], [200])).all().dataSync()[0]);
    expect(same).toBe(1);
    tf.dispose([data.x, data.y, full.x, full.y]);
  });

  it('shuffle: the subset’s images, reordered by a seed, each image with its own label', async () => {
    const plain = await loadMnist({ subset: 500, cache: dir });
    const shuffled = await loadMnist({ subset: 500, shuffle: 'digits', cache: dir });
    const labels = Array.from(await shuffled.y.data());
    expect(labels.slice(0, 50)).not.toEqual([...labels.slice(0, 50)].sort((a, b) => a - b));
    expect(new Set(labels.slice(0, 100)).size).toBe(10); // the first 100 rows hold every digit
    expect(shuffled.metadata.classCounts).toEqual(plain.metadata.classCounts);
    // Row i of the shuffled set is row order[i] of the plain one: images and labels moved together.
    const plainLabels = Array.from(await plain.y.data());
    const plainPixels = tf.tidy(() => plain.x.reshape([500, 784]).arraySync() as number[][]);
    const shuffledPixels = tf.tidy(() => shuffled.x.reshape([500, 784]).arraySync() as number[][]);
    const key = (pixels: number[], label: number) => `${label}:${pixels.join(',')}`;
    const index = new Map(plainPixels.map((p, i) => [key(p, plainLabels[i]!), i]));
    const sources = shuffledPixels.map((p, i) => index.get(key(p, labels[i]!)));
    expect(sources.every((s) => s !== undefined)).toBe(true);
    expect(new Set(sources).size).toBe(500);
    const again = await loadMnist({ subset: 500, shuffle: 'digits', cache: dir });
    expect(Array.from(await again.y.data())).toEqual(labels);
    tf.dispose([plain.x, plain.y, shuffled.x, shuffled.y, again.x, again.y]);
  });

  it('names the bad option', async () => {
    await expect(loadMnist({ shuffle: -0.5 })).rejects.toThrow(/options\.shuffle/);
    await expect(loadMnist({ subset: 5 })).rejects.toThrow(/options\.subset.*from 10 to 10000/);
    await expect(loadMnist({ subset: 20_000 })).rejects.toThrow(/options\.subset/);
    await expect(loadMnist({ cache: '' })).rejects.toThrow(/options\.cache/);
  });
});
