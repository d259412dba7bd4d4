import { Random } from '@fitstream/util';
import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from './stratified-split.js';

const iris = Array.from({ length: 150 }, (_, i) => Math.floor(i / 50));

function countBy(labels: ArrayLike<number>, indices: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (const i of Array.from(indices)) m.set(labels[i]!, (m.get(labels[i]!) ?? 0) + 1);
  return m;
}

/** Every invariant a stratified split must keep. */
function expectValidSplit(labels: readonly number[], testFraction: number, seed: number | string): void {
  const { train, test } = stratifiedSplit(labels, { testFraction, seed });
  const n = labels.length;
  // A partition: disjoint, and together every index exactly once.
  const all = [...train, ...test].sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
  // scikit-learn's sizes.
  expect(test.length).toBe(Math.ceil(testFraction * n));
  // Stratified within ±1 of each class's exact share; every class on both sides. Only when a class's share is below
  // one sample (or above all but one) does moving a sample to keep it on both sides widen that to ±2.
  const totals = countBy(labels, labels.map((_, i) => i));
  const inTest = countBy(labels, test);
  const inTrain = countBy(labels, train);
  const shares = [...totals].map(([, total]) => [total, (total * test.length) / n] as const);
  const tolerance = shares.every(([total, share]) => share >= 1 && share <= total - 1) ? 1 : 2;
  for (const [label, total] of totals) {
    const share = (total * test.length) / n;
    expect(Math.abs((inTest.get(label) ?? 0) - share)).toBeLessThan(tolerance);
    expect(inTest.get(label) ?? 0).toBeGreaterThanOrEqual(1);
    expect(inTrain.get(label) ?? 0).toBeGreaterThanOrEqual(1);
  }
}

describe('stratifiedSplit', () => {
  it('splits Iris 80/20 into 120 and 30 indices with 10 of each class in the test side', () => {
    const { train, test } = stratifiedSplit(iris, { testFraction: 0.2, seed: 42 });
    expect(train).toBeInstanceOf(Int32Array);
    expect(train.length).toBe(120);
    expect(test.length).toBe(30);
    expect([...countBy(iris, test).values()]).toEqual([10, 10, 10]);
    expect([...countBy(iris, train).values()]).toEqual([40, 40, 40]);
  });

  it('is a partition: disjoint sides whose union is every index', () => {
    const { train, test } = stratifiedSplit(iris, { testFraction: 0.3, seed: 1 });
    const trainSet = new Set(train);
    expect(trainSet.size).toBe(train.length);
    expect(test.some((i) => trainSet.has(i))).toBe(false);
    expect(new Set([...train, ...test]).size).toBe(150);
  });

  it('rounds like scikit-learn: test = ceil(fraction · n), classes by largest remainder', () => {
    expect(stratifiedSplit(iris, { testFraction: 0.33, seed: 0 }).test.length).toBe(50); // 49.5 → 50
    const labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]; // 10 samples, 6:4
    const { test } = stratifiedSplit(labels, { testFraction: 0.25, seed: 0 }); // ceil(2.5) = 3; shares 1.8 and 1.2
    expect(test.length).toBe(3);
    expect(countBy(labels, test)).toEqual(new Map([[0, 2], [1, 1]]));
  });

  it('keeps every invariant on many random label sets, fractions and seeds', () => {
    const random = Random.fromSeed('split-properties');
    for (let trial = 0; trial < 200; trial++) {
      const classes = 2 + random.int(5);
      const sizes = Array.from({ length: classes }, () => 2 + random.int(40));
      const labels = random.shuffleInPlace(sizes.flatMap((size, c) => Array.from({ length: size }, () => c * 3 - 2)));
      const n = labels.length;
      const lo = classes / n;
      const fraction = lo + random.next() * (1 - 2 * lo);
      if (Math.ceil(fraction * n) < classes || n - Math.ceil(fraction * n) < classes) continue;
      expectValidSplit(labels, fraction, trial);
    }
  });

  it('puts every class on both sides even when its proportional share rounds to zero', () => {
    const labels = [...Array<number>(40).fill(0), 1, 1];
    const { train, test } = stratifiedSplit(labels, { testFraction: 0.1, seed: 3 }); // class 1's share: 0.2
    expect(countBy(labels, test).get(1)).toBe(1);
    expect(countBy(labels, train).get(1)).toBe(1);
    expect(test.length).toBe(5);
  });

  it('is deterministic per seed, and different seeds give different splits', () => {
    const a = stratifiedSplit(iris, { testFraction: 0.2, seed: 42 });
    const b = stratifiedSplit(iris, { testFraction: 0.2, seed: 42 });
    expect(b.train).toEqual(a.train);
    expect(b.test).toEqual(a.test);
    const c = stratifiedSplit(iris, { testFraction: 0.2, seed: 43 });
    const d = stratifiedSplit(iris, { testFraction: 0.2, seed: 'forty-two' });
    const sorted = (t: Int32Array) => [...t].sort((x, y) => x - y);
    expect(sorted(c.test)).not.toEqual(sorted(a.test));
    expect(sorted(d.test)).not.toEqual(sorted(a.test));
  });

  it('returns each side in a shuffled order, not grouped by class', () => {
    const { train } = stratifiedSplit(iris, { testFraction: 0.2, seed: 42 });
    const firstForty = [...train.slice(0, 40)].map((i) => iris[i]);
    expect(new Set(firstForty).size).toBe(3);
  });

  it('accepts typed arrays of labels', () => {
    const fromTyped = stratifiedSplit(Int32Array.from(iris), { testFraction: 0.2, seed: 42 });
    expect(fromTyped.test).toEqual(stratifiedSplit(iris, { testFraction: 0.2, seed: 42 }).test);
  });

  describe('errors name the argument and the fix', () => {
    it.each([0, 1, -0.2, 1.5, Number.NaN])('testFraction %s is outside (0, 1)', (testFraction) => {
      expect(() => stratifiedSplit(iris, { testFraction, seed: 1 })).toThrow(/options\.testFraction: must be a number in \(0, 1\)/);
    });

    it('a class with one member', () => {
      expect(() => stratifiedSplit([0, 0, 0, 1, 2, 2], { testFraction: 0.5, seed: 1 })).toThrow(
        /labels: class 1 has a single member, which cannot be on both sides/,
      );
    });

    it('a side with fewer samples than classes', () => {
      expect(() => stratifiedSplit(iris, { testFraction: 0.01, seed: 1 })).toThrow(/test side \(2\) with fewer samples than the 3 classes; raise testFraction/);
      expect(() => stratifiedSplit(iris, { testFraction: 0.99, seed: 1 })).toThrow(/train side \(1\) .*lower testFraction/);
    });

    it('non-integer labels, empty labels, a bad seed', () => {
      expect(() => stratifiedSplit([0, 1, 0.5, 1], { testFraction: 0.5, seed: 1 })).toThrow(/labels\[2\]: is 0\.5; class labels must be integers/);
      expect(() => stratifiedSplit([], { testFraction: 0.5, seed: 1 })).toThrow(/labels: is empty/);
      expect(() => stratifiedSplit(iris, { testFraction: 0.2, seed: 1.5 })).toThrow(/options\.seed: must be a safe integer or a string/);
    });
  });
});
