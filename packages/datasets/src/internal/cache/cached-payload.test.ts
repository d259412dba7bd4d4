import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheOption, cachedPayload } from './cached-payload.js';

const isNumbers = (p: unknown): p is number[] => Array.isArray(p) && p.every((v) => typeof v === 'number');

describe('cachedPayload: the one cache path of every loader', () => {
  it('checks the cache option, naming options.cache', () => {
    expect(cacheOption(undefined)).toBe(true);
    expect(cacheOption(false)).toBe(false);
    expect(cacheOption('/tmp/x')).toBe('/tmp/x');
    for (const bad of ['', 0, null, {}]) expect(() => cacheOption(bad)).toThrow(/^options\.cache: must be true, false or a directory path/);
  });

  it('keys the file by data set, package (scoped "/" → "+"), version and layout; parses once; off touches no file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cached-payload-'));
    try {
      let parses = 0;
      const source = { dataset: 'demo', package: '@scope/data', version: '1.2.3', layout: 2, parse: () => (parses++, [1, 2, 3]), validate: isNumbers };
      const first = await cachedPayload(dir, source);
      expect(first).toEqual({ payload: [1, 2, 3], cache: { status: 'miss', path: join(dir, 'datasets', 'demo', '@scope+data@1.2.3.v2.json') } });
      expect((await cachedPayload(dir, source)).cache.status).toBe('hit');
      expect((await cachedPayload(dir, { ...source, layout: 3 })).cache.status).toBe('miss');
      expect(await cachedPayload(false, source)).toEqual({ payload: [1, 2, 3], cache: { status: 'disabled', path: undefined } });
      expect(parses).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
