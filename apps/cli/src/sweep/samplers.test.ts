// The samplers and the search space: the grid is the whole product, random and Sobol points are reproducible, inside
// their bounds and on a log scale where the space says so, and the Sobol points are the published sequence.
import { describe, expect, it } from 'vitest';
import { SOBOL_MAX_POINTS, gridPoints, gridSize, randomPoints, samplePoints, sobolPoints, sobolUnitPoints } from './samplers.js';
import { fromUnit, gridValues, parseSpace, type Param } from './space.js';

const space = (raw: Record<string, unknown>): Param[] => {
  const { params, problems } = parseSpace(raw);
  expect(problems).toEqual([]);
  return params;
};

const SPACE = { lr: { log: [1e-4, 1e-1] }, batchSize: { choice: [16, 32, 64] }, 'model.hiddenUnits': { int: [8, 64] }, dropout: { uniform: [0, 0.5] } };

function inBounds(params: readonly Param[], point: Record<string, unknown>): void {
  for (const p of params) {
    const v = point[p.key];
    if (p.kind === 'choice') expect(p.values).toContain(v);
    else {
      expect(typeof v).toBe('number');
      expect(v as number).toBeGreaterThanOrEqual(p.low);
      expect(v as number).toBeLessThanOrEqual(p.high);
      if (p.kind === 'int') expect(Number.isInteger(v)).toBe(true);
    }
  }
}

describe('grid sampler', () => {
  it('covers the whole product of the grids, the last key varying fastest', () => {
    const params = space({ a: { choice: ['x', 'y', 'z'] }, lr: { log: [1e-3, 1e-1], grid: 3 }, units: { int: [1, 4] } });
    expect(gridValues(params[1]!)).toEqual([0.001, 0.01, 0.1]);
    expect(gridValues(params[2]!)).toEqual([1, 2, 3, 4]); // a small int range: every integer
    expect(gridSize(params)).toBe(36);
    const points = gridPoints(params);
    expect(points).toHaveLength(36);
    const seen = new Set(points.map((p) => JSON.stringify(p)));
    expect(seen.size).toBe(36);
    for (const a of ['x', 'y', 'z']) for (const lr of [0.001, 0.01, 0.1]) for (const units of [1, 2, 3, 4]) expect(seen.has(JSON.stringify({ a, lr, units }))).toBe(true);
    expect(points.slice(0, 2)).toEqual([
      { a: 'x', lr: 0.001, units: 1 },
      { a: 'x', lr: 0.001, units: 2 },
    ]);
  });

  it('takes the first N points when trials is smaller, and float grids include both ends', () => {
    const params = space({ dropout: { uniform: [0, 0.5], grid: 6 }, units: { int: [8, 64] } });
    expect(gridValues(params[0]!)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(gridValues(params[1]!)).toEqual([8, 36, 64]); // a wide int range: 3 points by default
    expect(samplePoints(params, 'grid', 1, 4)).toEqual(gridPoints(params).slice(0, 4));
    expect(samplePoints(params, 'grid', 1, 100)).toHaveLength(18);
  });
});

describe('random sampler', () => {
  const params = space(SPACE);

  it('gives the same points for the same seed, others for another seed, all inside the bounds', () => {
    const a = randomPoints(params, 7, 50);
    expect(randomPoints(params, 7, 50)).toEqual(a);
    expect(randomPoints(params, 8, 50)).not.toEqual(a);
    for (const p of a) inBounds(params, p);
    // Trial i's point depends on i alone: a sweep given more trials keeps its first ones.
    expect(randomPoints(params, 7, 80).slice(0, 50)).toEqual(a);
  });

  it('draws log ranges uniformly in log space, ints and choices over their whole range', () => {
    const points = randomPoints(params, 1, 2000);
    const lrs = points.map((p) => p['lr'] as number);
    // log-uniform on [1e-4, 1e-1]: a third of the mass per decade (uniform on the values would put 90% in the last one).
    for (const [lo, hi] of [
      [1e-4, 1e-3],
      [1e-3, 1e-2],
      [1e-2, 1e-1],
    ] as const) {
      const share = lrs.filter((v) => v >= lo && v < hi).length / lrs.length;
      expect(share).toBeGreaterThan(0.28);
      expect(share).toBeLessThan(0.39);
    }
    const units = new Set(points.map((p) => p['model.hiddenUnits']));
    expect(units.size).toBe(57); // every integer of [8, 64], both ends included
    expect(new Set(points.map((p) => p['batchSize']))).toEqual(new Set([16, 32, 64]));
  });
});

describe('Sobol sampler', () => {
  it('is the published unscrambled sequence (Joe & Kuo direction numbers, as scipy.stats.qmc.Sobol(scramble=False))', () => {
    // scipy's documentation: qmc.Sobol(d=2, scramble=False).random_base2(m=3), then the next eight points.
    expect(sobolUnitPoints(2, 16)).toEqual([
      [0, 0],
      [0.5, 0.5],
      [0.75, 0.25],
      [0.25, 0.75],
      [0.375, 0.375],
      [0.875, 0.875],
      [0.625, 0.125],
      [0.125, 0.625],
      [0.1875, 0.3125],
      [0.6875, 0.8125],
      [0.9375, 0.0625],
      [0.4375, 0.5625],
      [0.3125, 0.1875],
      [0.8125, 0.6875],
      [0.5625, 0.4375],
      [0.0625, 0.9375],
    ]);
    // The third dimension (primitive polynomial x² + x + 1, m = 1, 3).
    expect(sobolUnitPoints(3, 8).map((p) => p[2])).toEqual([0, 0.5, 0.25, 0.75, 0.625, 0.125, 0.875, 0.375]);
  });

  it('skips the origin, maps each coordinate through the space (log ranges geometrically), and is the same every time', () => {
    const params = space({ lr: { log: [1e-4, 1e-2] }, dropout: { uniform: [0, 0.5] } });
    const points = sobolPoints(params, 3);
    expect(points[0]!['lr']).toBeCloseTo(1e-3, 12); // u = 0.5 → the geometric middle
    expect(points[0]!['dropout']).toBeCloseTo(0.25, 12);
    expect(points[1]!['lr']).toBeCloseTo(10 ** -2.5, 12); // u = 0.75
    expect(points[1]!['dropout']).toBeCloseTo(0.125, 12); // u = 0.25
    expect(sobolPoints(params, 3)).toEqual(points);
    expect(samplePoints(params, 'sobol', 1, 3)).toEqual(samplePoints(params, 'sobol', 2, 3)); // unscrambled: no seed
    for (const p of sobolPoints(space(SPACE), 64)) inBounds(space(SPACE), p);
  });

  it('spreads evenly: the first 2^k points put one point in each of 2^k equal bins of every coordinate', () => {
    const points = sobolUnitPoints(4, 16, 0);
    for (let d = 0; d < 4; d++) expect(new Set(points.map((p) => Math.floor(p[d]! * 16))).size).toBe(16);
  });

  it('stays exact up to its limit of 2^20 points', () => {
    const [last] = sobolUnitPoints(2, 1, SOBOL_MAX_POINTS);
    expect(last!.every((v) => v > 0 && v < 1)).toBe(true);
    expect(() => sobolUnitPoints(2, 2, SOBOL_MAX_POINTS)).toThrow(RangeError);
  });
});

describe('search space', () => {
  it('maps the unit interval onto each kind of parameter', () => {
    const [lr, units, logUnits, choice] = space({ lr: { log: [1e-4, 1e-2] }, units: { int: [8, 64] }, width: { int: [1, 1000], log: true }, act: { choice: ['relu', 'tanh'] } });
    expect(fromUnit(lr!, 0)).toBeCloseTo(1e-4, 15);
    expect(fromUnit(lr!, 0.999999999)).toBeCloseTo(1e-2, 8);
    expect(fromUnit(units!, 0)).toBe(8);
    expect(fromUnit(units!, 0.9999)).toBe(64);
    // A log-scaled int range is log-uniform over [low − ½, high + ½] (Optuna's suggest_int(log=True)): √(0.5 · 1000.5) ≈ 22.4.
    expect(fromUnit(logUnits!, 0.5)).toBe(22);
    expect(fromUnit(choice!, 0.49)).toBe('relu');
    expect(fromUnit(choice!, 0.5)).toBe('tanh');
  });

  it('reports every problem of a space with its key and the fix', () => {
    const { problems } = parseSpace({
      a: { log: [0, 1] },
      b: { uniform: [1, 0.1] },
      c: { int: [1.5, 4] },
      d: { choice: [] },
      e: { between: [1, 2] },
      f: { log: [1e-3, 1e-1], uniform: [0, 1] },
      g: 0.1,
      h: { uniform: [0, 1], grid: 1 },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^space\.a\.log: a log range needs low > 0 .* Use e\.g\. \[1e-5, 1\]/),
      'space.b.uniform: low must be < high, got [1, 0.1]. Write [0.1, 1].',
      expect.stringMatching(/^space\.c\.int: the bounds of an int range must be whole numbers/),
      expect.stringMatching(/^space\.d\.choice: must be a non-empty list/),
      expect.stringMatching(/^space\.e: says no distribution\. Use one of log, uniform, int, choice/),
      'space.f: give one distribution, not log and uniform.',
      expect.stringMatching(/^space\.g: must be one of \{ log: \[low, high\] \}/),
      expect.stringMatching(/^space\.h\.grid: the number of grid points must be a whole number ≥ 2/),
    ]);
    expect(parseSpace({}).problems).toEqual([expect.stringMatching(/^space: must name at least one config key to search, e\.g\./)]);
  });
});
