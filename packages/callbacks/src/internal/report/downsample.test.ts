import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { m4Indices, pixelColumns } from './downsample.js';

/** A curve: increasing x (steps, with repeats and gaps) and finite y at any magnitude. */
const curve = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 400 })
  .map((points) => {
    let step = 0;
    return { x: Float64Array.from(points, ([gap]) => (step += gap)), y: Float64Array.from(points, ([, y]) => y) };
  });

describe('M4 downsampling', () => {
  it('keeps, in order and at most 4 per column, the first, last, lowest and highest point of every column', () => {
    fc.assert(
      fc.property(curve, fc.integer({ min: 1, max: 60 }), ({ x, y }, count) => {
        const columns = pixelColumns(x, y, x[0]!, x[x.length - 1]!, count, () => true);
        const kept = m4Indices(columns);
        expect(kept.length).toBeLessThanOrEqual(4 * count);
        expect(kept.every((v, i) => i === 0 || v > kept[i - 1]!)).toBe(true);
        // The ends of the curve and its global extremes (every spike) survive.
        const values = Array.from(kept, (i) => y[i]!);
        expect(kept[0]).toBe(0);
        expect(kept[kept.length - 1]).toBe(x.length - 1);
        expect(values.reduce((a, b) => Math.max(a, b))).toBe(y.reduce((a, b) => Math.max(a, b)));
        expect(values.reduce((a, b) => Math.min(a, b))).toBe(y.reduce((a, b) => Math.min(a, b)));
        // And so do the extremes of every column.
        for (let c = 0; c < count; c++) {
          if (columns.first[c] === -1) continue;
          expect(kept).toContain(columns.low[c]);
          expect(kept).toContain(columns.high[c]);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('skips the points it is told to, and puts points outside the range in the end columns', () => {
    const x = Float64Array.from([-5, 0, 1, 2, 3, 50]);
    const y = Float64Array.from([1, Number.NaN, 3, 9, 4, 2]);
    const columns = pixelColumns(x, y, 0, 3, 3, (i) => Number.isFinite(y[i]!));
    // Columns [0, 1), [1, 2), [2, 3]: x = -5 joins the first, x = 50 the last; the NaN point is in none.
    expect(Array.from(columns.first)).toEqual([0, 2, 3]);
    expect(Array.from(columns.low)).toEqual([0, 2, 5]);
    expect(Array.from(columns.high)).toEqual([0, 2, 3]);
    expect(Array.from(m4Indices(columns))).toEqual([0, 2, 3, 5]);
  });

  it('divides a range wider than Number.MAX_VALUE without overflowing', () => {
    const x = Float64Array.from([-Number.MAX_VALUE, 0, Number.MAX_VALUE]);
    const columns = pixelColumns(x, Float64Array.from([1, 2, 3]), -Number.MAX_VALUE, Number.MAX_VALUE, 4, () => true);
    expect(Array.from(columns.first)).toEqual([0, -1, 1, 2]);
  });
});
