import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { groupKFold } from './group-k-fold.js';
import { kFold, repeatedStratifiedKFold, stratifiedKFold } from './k-fold.js';
import { shuffleSplit, stratifiedShuffleSplit } from './shuffle-split.js';
import type { Fold } from './splitter.js';

const all = (n: number) => Array.from({ length: n }, (_, i) => i);
const sorted = (...parts: ArrayLike<number>[]) => parts.flatMap((p) => Array.from(p)).sort((a, b) => a - b);

/** Test folds of one repeat are disjoint and cover [0, n); each fold's train is its complement. */
function expectPartition(folds: readonly Fold[], n: number): void {
  expect(sorted(...folds.map((f) => f.test))).toEqual(all(n));
  for (const f of folds) expect(sorted(f.train, f.test)).toEqual(all(n));
}

const labelsArb = fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 5 }).chain((sizes) =>
  fc.shuffledSubarray(sizes.flatMap((s, c) => new Array<number>(s).fill(c)), { minLength: sizes.reduce((a, b) => a + b, 0) }),
);

describe('kFold', () => {
  it('gives disjoint, covering folds of sizes ⌊n/k⌋+1 (first n mod k folds) and ⌊n/k⌋', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 0, max: 200 }), fc.boolean(), fc.integer(), (k, extra, shuffle, seed) => {
        const n = k + extra;
        const folds = [...kFold({ nSplits: k, shuffle, seed }).split(n)];
        expect(folds).toHaveLength(kFold({ nSplits: k }).nSplits());
        expectPartition(folds, n);
        folds.forEach((f, i) => expect(f.test.length).toBe(Math.floor(n / k) + (i < n % k ? 1 : 0)));
      }),
    );
  });

  it('cuts contiguous blocks without shuffling (sklearn KFold example)', () => {
    expect([...kFold({ nSplits: 3 }).split(10)].map((f) => Array.from(f.test))).toEqual([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  });

  it('explains bad input', () => {
    expect(() => kFold({ nSplits: 1 })).toThrow(/options\.nSplits: must be an integer ≥ 2/);
    expect(() => [...kFold({ nSplits: 5 }).split(3)]).toThrow(/options\.nSplits: is 5, more than the 3 samples/);
    expect(() => [...kFold().split(0)]).toThrow(/input\.n: is 0/);
  });
});

describe('stratifiedKFold', () => {
  it('partitions and keeps every class within ±1 of n_c/k per fold; fold sizes within 1 of each other', () => {
    fc.assert(
      fc.property(labelsArb, fc.integer({ min: 2, max: 6 }), fc.boolean(), fc.integer(), (y, k, shuffle, seed) => {
        const counts = [...new Set(y)].map((c) => y.filter((v) => v === c).length);
        fc.pre(counts.some((c) => c >= k) && y.length >= k);
        const folds = [...stratifiedKFold({ nSplits: k, shuffle, seed, warn: () => undefined }).split({ y })];
        expectPartition(folds, y.length);
        const sizes = folds.map((f) => f.test.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (const c of new Set(y)) {
          const nc = y.filter((v) => v === c).length;
          for (const f of folds) expect(Math.abs(Array.from(f.test).filter((i) => y[i] === c).length - nc / k)).toBeLessThan(1);
        }
      }),
    );
  });

  it('is deterministic without shuffle, each class contiguous in its own order; relabelling changes nothing', () => {
    const y = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0];
    const a = [...stratifiedKFold({ nSplits: 3 }).split({ y })];
    expect(a).toEqual([...stratifiedKFold({ nSplits: 3 }).split({ y })]);
    expect(Array.from(a[0]!.test).filter((i) => y[i] === 0)).toEqual([0, 2, 4]); // 7 zeros dealt 3, 2, 2
    const relabelled = y.map((v) => (v === 0 ? 'cat' : 'dog'));
    expect([...stratifiedKFold({ nSplits: 3 }).split({ y: relabelled })]).toEqual(a);
  });

  it('warns when the smallest class is smaller than nSplits and refuses when every class is', () => {
    const warn = vi.fn();
    Array.from(stratifiedKFold({ nSplits: 3, warn }).split({ y: [0, 0, 0, 0, 1, 1] }));
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/least populated class in y has only 2 members, which is less than nSplits=3/));
    expect(() => [...stratifiedKFold({ nSplits: 3 }).split({ y: [0, 0, 1, 1] })]).toThrow(/options\.nSplits: is 3, more than the members of every class/);
    expect(() => [...stratifiedKFold().split(10)]).toThrow(/input\.y: stratifiedKFold stratifies on class labels/);
  });
});

describe('repeatedStratifiedKFold', () => {
  it('yields nSplits × nRepeats folds; each repeat is a partition, repeats differ', () => {
    const y = all(60).map((i) => i % 3);
    const s = repeatedStratifiedKFold({ nSplits: 4, nRepeats: 3, seed: 5 });
    const folds = [...s.split({ y })];
    expect(folds).toHaveLength(s.nSplits());
    for (let r = 0; r < 3; r++) expectPartition(folds.filter((f) => f.repeat === r), 60);
    expect(folds[0]!.test).not.toEqual(folds[4]!.test);
  });
});

describe('groupKFold', () => {
  it('never puts a group on both sides, and folds cover every sample', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 6, maxLength: 120 }), fc.integer({ min: 2, max: 5 }), (groups, k) => {
        fc.pre(new Set(groups).size >= k);
        const folds = [...groupKFold({ nSplits: k }).split({ groups })];
        expectPartition(folds, groups.length);
        for (const f of folds) {
          const testGroups = new Set(Array.from(f.test, (i) => groups[i]));
          for (const i of f.train) expect(testGroups.has(groups[i]!)).toBe(false);
        }
      }),
    );
  });

  it('balances by assigning the largest groups first to the lightest fold', () => {
    const groups = [...new Array<string>(6).fill('a'), ...new Array<string>(3).fill('b'), ...new Array<string>(2).fill('c'), 'd'];
    const sizes = [...groupKFold({ nSplits: 2 }).split({ groups })].map((f) => f.test.length);
    expect(sizes).toEqual([6, 6]);
    expect(() => [...groupKFold({ nSplits: 5 }).split({ groups })]).toThrow(/options\.nSplits: is 5, more than the 4 distinct groups/);
  });
});

describe('shuffleSplit', () => {
  it('draws nSplits independent splits of sklearn sizes (default test 0.1)', () => {
    const s = shuffleSplit({ nSplits: 5, seed: 1 });
    const folds = [...s.split(95)];
    expect(folds).toHaveLength(s.nSplits());
    for (const f of folds) {
      expect(f.test.length).toBe(10); // ceil(9.5)
      expect(sorted(f.train, f.test)).toEqual(all(95));
    }
    expect(folds[0]!.test).not.toEqual(folds[1]!.test);
    expect([...shuffleSplit({ nSplits: 2, testSize: 0.2, trainSize: 0.5, seed: 1 }).split(10)][0]!.train.length).toBe(5);
  });

  it('stratified: per-class counts within ±1 of proportional on each side', () => {
    const y = all(103).map((i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    for (const f of stratifiedShuffleSplit({ nSplits: 5, testSize: 0.3, seed: 2 }).split({ y })) {
      for (const c of [0, 1, 2]) {
        const nc = y.filter((v) => v === c).length;
        for (const side of [f.train, f.test]) expect(Math.abs(Array.from(side).filter((i) => y[i] === c).length - (nc * side.length) / 103)).toBeLessThan(1);
      }
    }
  });
});
