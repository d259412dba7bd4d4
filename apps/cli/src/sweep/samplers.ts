// Samplers: which configurations a sweep tries. Each maps a trial's index to a point of the space, so trial i's
// configuration depends on (sampler, seed, space, i) only: a resumed sweep, or one given more trials, draws the same
// configurations for the trials it already has.
import { createRequire } from 'node:module';
import { Random } from '@fitstream/core';
import { fromUnit, gridValues, type Param, type ParamValue } from './space.js';

/**
 * The `sobol` npm package (CommonJS, untyped): Sobol points from the Joe–Kuo direction numbers (new-joe-kuo-6.21201),
 * unscrambled, the origin first. Required with its type spelled here, so that every program compiling this module
 * (the docs' type-check included) knows it without an ambient declaration file.
 */
interface SobolModule {
  readonly SobolSequenceGenerator: new (dimension: number) => { nextVector(): number[] };
}
const { SobolSequenceGenerator } = createRequire(import.meta.url)('sobol') as SobolModule;

/** How a sweep picks configurations (Keras Tuner's GridSearch / RandomSearch, Optuna's QMCSampler with Sobol). */
export type SamplerName = 'grid' | 'random' | 'sobol';

/** One trial's configuration: searched config key → value. */
export type Point = Readonly<Record<string, ParamValue>>;

/**
 * The most Sobol points a sweep draws: the `sobol` package computes in 32-bit integers with 20 bits of resolution,
 * exact up to 2^20 points (the origin, which is skipped, included).
 */
export const SOBOL_MAX_POINTS = 2 ** 20 - 1;

/**
 * The number of points of the full grid (the product of every parameter's grid values).
 *
 * @example
 * ```ts
 * gridSize([{ key: 'batchSize', kind: 'choice', values: [16, 32] }, { key: 'lr', kind: 'log', low: 1e-3, high: 1e-1, grid: 3 }]); // 6
 * ```
 */
export function gridSize(params: readonly Param[]): number {
  return params.reduce((n, p) => n * gridValues(p).length, 1);
}

/**
 * The full grid in order, the last parameter varying fastest (as `itertools.product`): trial i is the grid's i-th point.
 *
 * @example
 * ```ts
 * gridPoints([{ key: 'a', kind: 'choice', values: [1, 2] }, { key: 'b', kind: 'choice', values: ['x', 'y'] }], 3);
 * // [{ a: 1, b: 'x' }, { a: 1, b: 'y' }, { a: 2, b: 'x' }]
 * ```
 */
export function gridPoints(params: readonly Param[], count = gridSize(params)): Point[] {
  const values = params.map(gridValues);
  const total = gridSize(params);
  return Array.from({ length: Math.min(count, total) }, (_, i) => {
    const point: Record<string, ParamValue> = {};
    let rest = i;
    for (let k = params.length - 1; k >= 0; k--) {
      const vs = values[k]!;
      point[params[k]!.key] = vs[rest % vs.length]!;
      rest = Math.floor(rest / vs.length);
    }
    return orderedLike(params, point);
  });
}

/**
 * Pseudo-random points: trial i's coordinates come from core's `Random.fromSeed(seed).derive('sweep:random', i)`, one
 * `next()` per parameter in the space's order — the same seed gives the same trials, whatever else ran before.
 *
 * @example
 * ```ts
 * randomPoints([{ key: 'lr', kind: 'log', low: 1e-4, high: 1e-1, grid: 3 }], 42, 2); // two log-uniform learning rates
 * ```
 */
export function randomPoints(params: readonly Param[], seed: number, count: number): Point[] {
  const root = Random.fromSeed(seed);
  return Array.from({ length: count }, (_, i) => {
    const random = root.derive('sweep:random', i);
    return Object.fromEntries(params.map((p) => [p.key, fromUnit(p, random.next())]));
  });
}

/**
 * The first `count` points of the unscrambled Sobol sequence in `dimension` dimensions (the `sobol` package: Joe and
 * Kuo's direction numbers, as `scipy.stats.qmc.Sobol(scramble=False)`), starting at index `skip`.
 *
 * @example
 * ```ts
 * sobolUnitPoints(2, 3, 0); // [[0, 0], [0.5, 0.5], [0.75, 0.25]]
 * ```
 */
export function sobolUnitPoints(dimension: number, count: number, skip = 0): number[][] {
  if (skip + count > SOBOL_MAX_POINTS + 1) throw new RangeError(`sobolUnitPoints: at most ${SOBOL_MAX_POINTS + 1} points, asked for ${skip + count}.`);
  const generator = new SobolSequenceGenerator(dimension);
  for (let i = 0; i < skip; i++) generator.nextVector();
  return Array.from({ length: count }, () => generator.nextVector());
}

/**
 * Quasi-random points: trial i is the Sobol sequence's point i + 1, unscrambled — the origin (every parameter at its
 * low end) is skipped, as it is a corner rather than a representative point. Not seeded: the sequence is the same for
 * every seed, which is what makes it spread evenly (scrambling would trade that for independent replicates).
 *
 * @example
 * ```ts
 * sobolPoints([{ key: 'dropout', kind: 'uniform', low: 0, high: 0.5, grid: 3 }], 3); // dropout 0.25, 0.375, 0.125
 * ```
 */
export function sobolPoints(params: readonly Param[], count: number): Point[] {
  return sobolUnitPoints(params.length, count, 1).map((u) => Object.fromEntries(params.map((p, k) => [p.key, fromUnit(p, u[k]!)])));
}

/**
 * The configurations of trials 0 … count − 1 of a sweep.
 *
 * @example
 * ```ts
 * samplePoints(params, 'sobol', 42, 12);
 * ```
 */
export function samplePoints(params: readonly Param[], sampler: SamplerName, seed: number, count: number): Point[] {
  if (sampler === 'grid') return gridPoints(params, count);
  if (sampler === 'sobol') return sobolPoints(params, count);
  return randomPoints(params, seed, count);
}

function orderedLike(params: readonly Param[], point: Record<string, ParamValue>): Point {
  return Object.fromEntries(params.map((p) => [p.key, point[p.key]!]));
}
