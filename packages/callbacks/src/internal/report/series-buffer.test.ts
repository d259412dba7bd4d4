import { describe, expect, it } from 'vitest';
import { DecimatedSeries, SeriesBuffer } from './series-buffer.js';

describe('DecimatedSeries', () => {
  it('keeps every point while the steps fit in its buckets one apiece', () => {
    const full = new SeriesBuffer();
    const decimated = new DecimatedSeries(128);
    for (let s = 5; s < 133; s++) {
      full.push(s, Math.sin(s));
      decimated.push(s, Math.sin(s));
    }
    expect(decimated.view()).toEqual(full.view());
  });

  it('holds a million steps in at most 5 points per bucket, in step order, with the first, last, every spike and dip, and a non-finite point', () => {
    const series = new DecimatedSeries(4096);
    const n = 1_000_000;
    const t0 = performance.now();
    for (let s = 0; s < n; s++) {
      const v = s === 777_777 ? 100 : s === 333_333 ? -100 : s === 500_000 ? Number.NaN : Math.sin(s / 1000);
      series.push(s, v);
    }
    const pushMs = performance.now() - t0;
    const { steps, values } = series.view();
    expect(steps.length).toBeLessThanOrEqual(5 * 4096);
    expect(steps.length).toBeGreaterThan(2 * 2048); // at least half the buckets in use, 2+ points each
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
    expect([steps[0], steps[steps.length - 1]]).toEqual([0, n - 1]);
    expect(values[steps.indexOf(777_777)]).toBe(100);
    expect(values[steps.indexOf(333_333)]).toBe(-100);
    expect(values[steps.indexOf(500_000)]).toBeNaN();
    // Every bucket's range keeps its lowest and highest finite value: the envelope of sin is there.
    const finite = Array.from(values).filter(Number.isFinite).filter((v) => Math.abs(v) < 2);
    expect(Math.min(...finite)).toBeCloseTo(-1, 5);
    expect(Math.max(...finite)).toBeCloseTo(1, 5);
    expect(pushMs).toBeLessThan(2000); // O(1) amortised (about 30 ms here)
  });

  it('drops a step before the first, and refuses an odd bucket count', () => {
    const series = new DecimatedSeries(4);
    series.push(10, 1);
    series.push(3, 2);
    expect(Array.from(series.view().steps)).toEqual([10]);
    expect(() => new DecimatedSeries(3)).toThrow(/even integer/);
  });
});
