import { describe, expect, it } from 'vitest';
import { permuteRows, rowOrderNote, shuffledRowOrder } from './shuffle-rows.js';

describe('shuffledRowOrder', () => {
  it('is a golden, seeded permutation from the core PRNG (the same order on every machine and release)', () => {
    expect(Array.from(shuffledRowOrder(10, 42)!)).toEqual([5, 4, 0, 1, 9, 6, 8, 2, 3, 7]);
    expect(Array.from(shuffledRowOrder(10, 'iris')!)).toEqual([7, 5, 6, 0, 1, 9, 3, 8, 2, 4]);
  });

  it('is a permutation of 0 … n-1 for every n, and keeps the package order without a seed', () => {
    for (const n of [0, 1, 2, 7, 150, 1000]) {
      const order = Array.from(shuffledRowOrder(n, n)!);
      expect(order.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(shuffledRowOrder(10, undefined)).toBeUndefined();
  });

  it('names the option and the fix for a bad seed', () => {
    for (const bad of [1.5, Number.NaN, 2 ** 60, '', true, null, {}]) {
      expect(() => shuffledRowOrder(5, bad as never)).toThrow(/options\.shuffle.*safe integer or a non-empty string/);
    }
  });
});

describe('permuteRows', () => {
  it('moves whole rows, keeping each row’s values together', () => {
    const values = Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(Array.from(permuteRows(values, 2, Int32Array.from([2, 0, 1])))).toEqual([2, 2.5, 0, 0.5, 1, 1.5]);
    const labels = Int32Array.from([7, 8, 9]);
    const moved = permuteRows(labels, 1, Int32Array.from([1, 2, 0]));
    expect(moved).toBeInstanceOf(Int32Array);
    expect(Array.from(moved)).toEqual([8, 9, 7]);
    expect(permuteRows(labels, 1, undefined)).toBe(labels);
  });

  it('says in the metadata how the rows are ordered', () => {
    expect(rowOrderNote('a, then b', undefined)).toMatch(/ordered by class \(a, then b\): shuffle \(options\.shuffle\)/);
    expect(rowOrderNote('a, then b', 42)).toMatch(/seeded random order \(options\.shuffle = 42\)/);
  });
});
