import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { axisRange, logTicks, MAX_TICKS, niceTicks, tickLabels } from './ticks.js';

/** Any double: NaN, ±Infinity, ±0, subnormals, ±Number.MAX_VALUE and everything between. */
const anyDouble = fc.double();
/** Doubles that make degenerate ranges: a value and one a few ulps away, at every magnitude. */
const nearPair = fc.tuple(fc.double({ noNaN: true }), fc.integer({ min: 0, max: 8 })).map(([v, ulps]) => {
  const bits = new Float64Array([v]);
  const ints = new BigInt64Array(bits.buffer);
  ints[0] = ints[0]! + BigInt(ulps);
  return [v, bits[0]!] as const;
});
const special = fc.constantFrom(0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1, 0.875, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, Number.NaN, Infinity, -Infinity);
const end = fc.oneof(anyDouble, special);
const range = fc.oneof(fc.tuple(end, end), nearPair);

/** The finite values among the ends. */
const finite = (...values: number[]) => values.filter(Number.isFinite);

/** What is wrong with an axis for `data`, or `undefined` (plain checks: fast-check runs them thousands of times). */
function axisFault(ticks: number[], data: number[], positive = false): string | undefined {
  if (ticks.length < 2 || ticks.length > MAX_TICKS) return `${ticks.length} ticks`;
  if (!ticks.every((t) => Number.isFinite(t) && (!positive || t > 0))) return `a tick is not finite${positive ? ' and positive' : ''}`;
  if (!ticks.every((t, i) => i === 0 || t > ticks[i - 1]!)) return 'not strictly increasing';
  if (!data.every((v) => ticks[0]! <= v && v <= ticks[ticks.length - 1]!)) return 'does not cover the data';
  return undefined;
}

function expectAxis(ticks: number[], data: number[], positive = false): void {
  expect(axisFault(ticks, data, positive), `[${data.join(', ')}] → [${ticks.join(', ')}]`).toBeUndefined();
}

describe('niceTicks', () => {
  it('is finite, strictly increasing, bounded and covers the finite data, for any pair of doubles', () => {
    fc.assert(
      fc.property(range, fc.integer({ min: -3, max: 40 }), fc.boolean(), ([lo, hi], count, integer) => {
        expectAxis(niceTicks(lo, hi, count, integer), finite(lo, hi));
      }),
      { numRuns: 10_000 },
    );
  });

  it('covers the degenerate ranges a training run produces', () => {
    const ulp = (x: number) => x + Math.abs(x) * Number.EPSILON;
    const cases: [number, number][] = [
      [0.875, 0.8750000000000001], // one ulp: the smoothed accuracy that hung the CLI (issue 17, seed 2)
      [3, 3], [0, 0], [-2.5, -2.5], [1e-310, 2e-310], [5e-324, 5e-324], [0, 5e-324], [1e300, ulp(1e300)],
      [-1e308, 1e308], [-Number.MAX_VALUE, Number.MAX_VALUE], [Number.MAX_VALUE, Number.MAX_VALUE], [Number.NaN, 1],
      [0, Infinity], [-Infinity, Infinity], [Number.NaN, Number.NaN], [7, 2], [1e-9, 1e-9 + 1e-25],
    ];
    for (const [lo, hi] of cases) expectAxis(niceTicks(lo, hi, 5), finite(lo, hi));
    expect(niceTicks(Number.NaN, Number.NaN)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]); // nothing finite: a unit axis
  });

  it('picks round steps: 1, 2 or 5 × 10ⁿ, whole numbers for integer axes', () => {
    expect(niceTicks(0.13, 0.87, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 47, 6, true)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(niceTicks(0, 3, 6, true)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0.1, 0.3)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3]);
  });
});

describe('logTicks', () => {
  it('is finite, positive, strictly increasing, bounded and covers the positive finite data, for any pair of doubles', () => {
    fc.assert(
      fc.property(range, ([lo, hi]) => {
        expectAxis(logTicks(lo, hi), finite(lo, hi).filter((v) => v > 0), true);
      }),
      { numRuns: 10_000 },
    );
  });

  it('uses decades, with 2· and 5· on narrow ranges, and every k-th decade on wide ones', () => {
    expect(logTicks(3e-4, 2)).toEqual([1e-4, 1e-3, 1e-2, 1e-1, 1, 10]);
    expect(logTicks(0.3, 4)).toEqual([0.2, 0.5, 1, 2, 5]);
    expect(logTicks(10, 10)).toEqual([10, 100]);
    expect(logTicks(1e-300, 1e300).length).toBeLessThanOrEqual(12);
  });
});

describe('axisRange', () => {
  it('is finite with lo < hi and contains the range, for any finite ordered pair', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true }), (x, y) => {
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        const [a, b] = axisRange(lo, hi);
        expect(Number.isFinite(a) && Number.isFinite(b)).toBe(true);
        expect(a).toBeLessThan(b);
        expect(a <= lo && b >= hi).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('tickLabels', () => {
  it('gives neighbouring ticks different labels, with as few digits as that takes', () => {
    expect(tickLabels([0, 0.5, 1])).toEqual(['0', '0.5', '1']);
    expect(tickLabels([2.30258, 2.30259, 2.3026])).toEqual(['2.30258', '2.30259', '2.3026']);
    expect(tickLabels([0, 12_500, 25_000])).toEqual(['0', '12.5k', '25k']);
    expect(tickLabels([3e-4, 1e7, -Number.MAX_VALUE])).toEqual(['3e-4', '1e7', '-1.8e308']);
    fc.assert(
      fc.property(range, ([lo, hi]) => {
        const labels = tickLabels(niceTicks(lo, hi));
        expect(new Set(labels).size).toBe(labels.length);
        expect(labels.join(' ')).not.toMatch(/NaN|Infinity/);
      }),
      { numRuns: 5_000 },
    );
  });
});
