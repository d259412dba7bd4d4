import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSensorAnomalies } from './load-sensor-anomalies.js';

describe('loadSensorAnomalies', () => {
  it('loads four labelled mote series with rare anomalies, metadata and the disk cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sensor-cache-'));
    try {
      const { motes, metadata, cache } = await loadSensorAnomalies({ cache: dir });
      expect(cache.status).toBe('miss');
      expect(motes.map((m) => [m.moteId, m.indoor, m.temperature.length])).toEqual([[1, true, 4417], [2, true, 4417], [3, false, 5039], [4, false, 5041]]);
      expect(metadata.classCounts).toEqual([18765, 149]);
      expect(metadata.units).toEqual(['% relative humidity', '°C']);
      expect(metadata.source.version).toBe('0.2.3');
      expect(metadata.licence).toMatch(/CC-BY-4\.0/);
      expect(motes.map((m) => m.label.reduce((s, l) => s + l, 0))).toEqual([117, 0, 0, 32]);
      expect(motes[0]!.reading[1]! - motes[0]!.reading[0]!).toBe(1);
      expect((await loadSensorAnomalies({ cache: dir })).cache.status).toBe('hit');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
