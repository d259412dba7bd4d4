import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trainTestSplit, trainValTestSplit } from './train-test-split.js';

const sorted = (...parts: ArrayLike<number>[]) => parts.flatMap((p) => Array.from(p)).sort((a, b) => a - b);
const countOf = (idx: ArrayLike<number>, y: readonly number[], c: number) => Array.from(idx).filter((i) => y[i] === c).length;

/** Labels with every class of at least 2 members. */
const labelsArb = fc.array(fc.integer({ min: 2, max: 40 }), { minLength: 1, maxLength: 5 }).map((sizes) => sizes.flatMap((s, c) => new Array<number>(s).fill(c)));

describe('trainTestSplit', () => {
  it('partitions the samples: every index exactly once, sizes by sklearn rounding (ceil test, floor train)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300 }), fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.integer(), (n, f, seed) => {
        const nTest = Math.ceil(f * n);
        fc.pre(nTest < n);
        const { train, test } = trainTestSplit(n, { testSize: f, seed });
        expect(test.length).toBe(nTest);
        expect(sorted(train, test)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
    expect(trainTestSplit(10, { trainSize: 0.55 }).train.length).toBe(5); // floor(5.5)
    expect(trainTestSplit(10, { testSize: 0.25 }).test.length).toBe(3); // ceil(2.5)
    expect(trainTestSplit(100).test.length).toBe(25); // default 0.25
  });

  it('keeps each class within ±1 of its proportional share on both sides when stratified', () => {
    fc.assert(
      fc.property(labelsArb, fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer(), (y, f, seed) => {
        const n = y.length;
        const k = new Set(y).size;
        const nTest = Math.ceil(f * n);
        fc.pre(nTest >= k && n - nTest >= k && nTest < n);
        const { train, test } = trainTestSplit(n, { testSize: f, stratify: y, seed });
        expect(sorted(train, test)).toEqual(Array.from({ length: n }, (_, i) => i));
        for (let c = 0; c < k; c++) {
          const nc = y.filter((v) => v === c).length;
          expect(Math.abs(countOf(test, y, c) - (nc * test.length) / n)).toBeLessThan(1 + 1e-9);
          expect(Math.abs(countOf(train, y, c) - (nc * train.length) / n)).toBeLessThan(1 + 1e-9);
        }
      }),
    );
  });

  it('keeps order without shuffling: train is the head, test what follows', () => {
    const { train, test } = trainTestSplit(10, { testSize: 3, shuffle: false });
    expect(Array.from(train)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(test)).toEqual([7, 8, 9]);
  });

  it('is a pure function of the seed', () => {
    expect(trainTestSplit(50, { seed: 'a' })).toEqual(trainTestSplit(50, { seed: 'a' }));
    expect(trainTestSplit(50, { seed: 'a' }).test).not.toEqual(trainTestSplit(50, { seed: 'b' }).test);
  });

  it('explains bad input: the argument and the fix', () => {
    expect(() => trainTestSplit(0)).toThrow(/^n: is 0: there is nothing to split/);
    expect(() => trainTestSplit(10, { testSize: 1.5 })).toThrow(/options\.testSize: is 1\.5: a fraction must be below 1/);
    expect(() => trainTestSplit(10, { testSize: 0.6, trainSize: 0.6 })).toThrow(/add up to 1\.2, more than 1/);
    expect(() => trainTestSplit(10, { testSize: 10 })).toThrow(/options\.testSize: is 10 samples but there are only 10/);
    expect(() => trainTestSplit(10, { testSize: -0.1 })).toThrow(/options\.testSize: must be a fraction in \(0, 1\) or a sample count/);
    expect(() => trainTestSplit(4, { stratify: [0, 0, 0, 1] })).toThrow(/options\.stratify: class 1 has only 1 member; every class needs at least 2/);
    expect(() => trainTestSplit(8, { testSize: 2, stratify: [0, 0, 1, 1, 2, 2, 2, 2] })).toThrow(/options\.testSize: gives 2 samples, fewer than the 3 classes.*Raise it to at least 3/);
    expect(() => trainTestSplit(4, { stratify: [0, 1, 0, 1], shuffle: false })).toThrow(/options\.stratify: needs shuffle: true/);
    expect(() => trainTestSplit(4, { stratify: [0, 1, 0] })).toThrow(/has 3 labels but there are 4 samples/);
  });
});

describe('trainValTestSplit', () => {
  it('partitions into three sides with sizes relative to all samples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 400 }), fc.integer(), (n, seed) => {
        const { train, val, test } = trainValTestSplit(n, { valSize: 0.1, testSize: 0.2, seed });
        expect(test.length).toBe(Math.ceil(0.2 * n));
        expect(val.length).toBe(Math.ceil(0.1 * n));
        expect(sorted(train, val, test)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
  });

  it('stratifies each side within ±1 of its share of what was left to it, and within ±2 overall', () => {
    fc.assert(
      fc.property(labelsArb, fc.integer(), (y, seed) => {
        const n = y.length;
        const k = new Set(y).size;
        const nTest = Math.ceil(0.2 * n);
        const nVal = Math.ceil(0.2 * n);
        fc.pre(nTest >= k && nVal >= k && n - nTest - nVal >= k);
        const { train, val, test } = trainValTestSplit(n, { valSize: 0.2, testSize: 0.2, stratify: y, seed });
        expect(sorted(train, val, test)).toEqual(Array.from({ length: n }, (_, i) => i));
        for (let c = 0; c < k; c++) {
          const nc = y.filter((v) => v === c).length;
          const tr = countOf(train, y, c);
          expect(Math.abs(tr - (nc * train.length) / n)).toBeLessThan(1 + 1e-9);
          const rest = nc - tr;
          expect(Math.abs(countOf(val, y, c) - (rest * val.length) / (n - train.length))).toBeLessThan(1 + 1e-9);
          for (const side of [val, test]) expect(Math.abs(countOf(side, y, c) - (nc * side.length) / n)).toBeLessThan(2);
        }
      }),
    );
  });

  it('explains bad sizes', () => {
    expect(() => trainValTestSplit(10, { trainSize: 0.6, valSize: 0.3, testSize: 0.3 })).toThrow(/add up to 1\.2/);
    expect(() => trainValTestSplit(10, { valSize: 5, testSize: 5 })).toThrow(/options\.trainSize: the train side would be empty/);
    expect(() => trainValTestSplit(10, { trainSize: 5 })).toThrow(/is required when trainSize is given/);
  });
});
