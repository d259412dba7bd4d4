import { loadSensorAnomalies } from '@fitstream/datasets';
import { describe, expect, it } from 'vitest';
import { anomalyScores, detectAnomalies } from './detect-anomalies.js';

describe('detectAnomalies on the single-hop sensor network data', () => {
  it('flags a clean level shift and nothing in a steady series', () => {
    const steady = Array.from({ length: 200 }, (_, t) => 20 + 0.05 * Math.sin(t));
    expect(detectAnomalies(steady, { window: 30 }).flags.reduce((s, f) => s + f, 0)).toBe(0);
    const shifted = steady.map((v, t) => (t >= 150 && t < 155 ? v + 5 : v));
    const { flags } = detectAnomalies(shifted, { window: 30 });
    expect([...flags.subarray(150, 155)]).toEqual([1, 1, 1, 1, 1]);
  });

  it('finds the labelled anomalies of motes 1 and 4 far above the base rate', async () => {
    const { motes, metadata } = await loadSensorAnomalies();
    expect(metadata.classCounts[1]! / metadata.samples).toBeLessThan(0.01);
    for (const mote of motes.filter((m) => m.label.some((l) => l === 1))) {
      const { flags } = detectAnomalies(mote.temperature, { window: 200, threshold: 4 });
      const s = anomalyScores(flags, mote.label);
      const base = mote.label.reduce((a, l) => a + l, 0) / mote.label.length;
      console.log(`mote ${mote.moteId}: precision ${s.precision.toFixed(2)} recall ${s.recall.toFixed(2)} (base rate ${base.toFixed(4)})`);
      expect(s.precision).toBeGreaterThan(10 * base);
      expect(s.recall).toBeGreaterThan(0.4);
    }
  });
});
