import fc from 'fast-check';
import { Random } from '@fitstream/core';
import { describe, expect, it } from 'vitest';
import { balancedBatchSampler } from './balanced-batches.js';
import { randomOverSampler, randomUnderSampler } from './resamplers.js';
import { resolveSamplingStrategy, samplingTargets } from './sampling-strategy.js';
import { classBalancedSampler, weightedDraw, weightedRandomSampler } from './weighted.js';

const flat = (batches: readonly Int32Array[]) => batches.flatMap((b) => Array.from(b));
const countBy = (idx: readonly number[], y: ArrayLike<number>) => {
  const m = new Map<number, number>();
  for (const i of idx) m.set(y[i]!, (m.get(y[i]!) ?? 0) + 1);
  return m;
};
/** Imbalanced labels: class c has sizes[c] members, interleaved. */
const imbalancedArb = fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 2, maxLength: 5 }).map((sizes) => sizes.flatMap((s, c) => new Array<number>(s).fill(c)));

describe('samplingStrategy (imbalanced-learn rules)', () => {
  const classes = [0, 1, 2];
  const counts = [50, 20, 10];
  it('resolves the string strategies for over- and under-sampling', () => {
    expect(samplingTargets(classes, counts, 'auto', 'over')).toEqual([50, 50, 50]);
    expect(samplingTargets(classes, counts, 'minority', 'over')).toEqual([50, 20, 50]);
    expect(samplingTargets(classes, counts, 'not minority', 'over')).toEqual([50, 50, 10]);
    expect(samplingTargets(classes, counts, 'all', 'over')).toEqual([50, 50, 50]);
    expect(samplingTargets(classes, counts, 'auto', 'under')).toEqual([10, 10, 10]);
    expect(samplingTargets(classes, counts, 'majority', 'under')).toEqual([10, 20, 10]);
    expect(samplingTargets(classes, counts, 'not majority', 'under')).toEqual([50, 10, 10]);
    expect(() => resolveSamplingStrategy(classes, counts, 'minority', 'under')).toThrow(/'minority' cannot be used with an under-sampler/);
    expect(() => resolveSamplingStrategy(classes, counts, 'majority', 'over')).toThrow(/'majority' cannot be used with an over-sampler/);
  });

  it('resolves a float for binary targets only, raising where imbalanced-learn does', () => {
    expect(samplingTargets([0, 1], [100, 10], 0.5, 'over')).toEqual([100, 50]);
    expect(samplingTargets([0, 1], [100, 10], 0.5, 'under')).toEqual([20, 10]);
    expect(() => resolveSamplingStrategy([0, 1], [100, 60], 0.5, 'over')).toThrow(/would need to remove samples from the minority class/);
    expect(() => resolveSamplingStrategy([0, 1], [100, 60], 0.5, 'under')).toThrow(/would need new samples in the majority class/);
    expect(() => resolveSamplingStrategy(classes, counts, 0.5, 'over')).toThrow(/only for binary targets, but there are 3 classes/);
    expect(() => resolveSamplingStrategy([0, 1], [5, 3], 1.5, 'over')).toThrow(/a float strategy must be in \(0, 1\]/);
  });

  it('resolves per-class counts, refusing unknown classes, negatives and the wrong direction', () => {
    expect(samplingTargets(classes, counts, { 1: 40 }, 'over')).toEqual([50, 40, 10]);
    expect(samplingTargets(classes, counts, new Map([[0, 15]]), 'under')).toEqual([15, 20, 10]);
    expect(() => resolveSamplingStrategy(classes, counts, { 7: 40 }, 'over')).toThrow(/options\.samplingStrategy\["7"\]: class "7" is not present/);
    expect(() => resolveSamplingStrategy(classes, counts, { 1: -1 }, 'under')).toThrow(/must be an integer ≥ 0/);
    expect(() => resolveSamplingStrategy(classes, counts, { 1: 5 }, 'over')).toThrow(/an over-sampler can only add samples/);
    expect(() => resolveSamplingStrategy(classes, counts, { 1: 30 }, 'under')).toThrow(/an under-sampler can only remove samples/);
  });
});

describe('randomOverSampler / randomUnderSampler (per epoch)', () => {
  it("over-sampling with 'auto' brings every class to the majority count and keeps every original", () => {
    fc.assert(
      fc.property(imbalancedArb, fc.integer({ min: 0, max: 20 }), (y, epoch) => {
        const plan = randomOverSampler({ seed: 1, dropLast: false }).preview({ size: y.length, batchSize: 7, epoch, labels: y });
        const idx = flat(plan);
        const counts = countBy(idx, y);
        const majority = Math.max(...countBy(y.map((_, i) => i), y).values());
        for (const c of new Set(y)) expect(counts.get(c)).toBe(majority);
        const seen = new Set(idx);
        for (let i = 0; i < y.length; i++) expect(seen.has(i)).toBe(true);
      }),
    );
  });

  it("under-sampling with 'auto' keeps only originals, no duplicates, every class at the minority count", () => {
    fc.assert(
      fc.property(imbalancedArb, fc.integer({ min: 0, max: 20 }), (y, epoch) => {
        const idx = flat(randomUnderSampler({ seed: 1, dropLast: false }).preview({ size: y.length, batchSize: 3, epoch, labels: y }));
        expect(new Set(idx).size).toBe(idx.length);
        expect(idx.every((i) => i >= 0 && i < y.length)).toBe(true);
        const minority = Math.min(...countBy(y.map((_, i) => i), y).values());
        for (const c of new Set(y)) expect(countBy(idx, y).get(c)).toBe(minority);
      }),
    );
  });

  it('resamples every epoch: subsets differ and their union covers more of the majority', () => {
    const y = Array.from({ length: 110 }, (_, i) => (i < 100 ? 0 : 1));
    const s = randomUnderSampler({ seed: 2, dropLast: false });
    const epoch = (e: number) => new Set(flat(s.preview({ size: 110, batchSize: 20, epoch: e, labels: y })).filter((i) => y[i] === 0));
    expect(epoch(0)).not.toEqual(epoch(1));
    const union = new Set([...epoch(0), ...epoch(1), ...epoch(2), ...epoch(3)]);
    expect(union.size).toBeGreaterThan(epoch(0).size);
  });

  it('reports the class counts before and after on plans$', () => {
    const y = [0, 0, 0, 0, 1];
    const s = randomOverSampler({ seed: 1, dropLast: false });
    const reports: unknown[] = [];
    s.plans$.subscribe((r) => reports.push(r));
    s.sampler.plan({ size: 5, batchSize: 4, epoch: 0, random: Random.fromSeed(0), labels: () => Int32Array.from(y) });
    expect(reports).toEqual([{ sampler: 'random-over-sampler', epoch: 0, samples: 8, batches: 2, classCounts: { classes: [0, 1], before: [4, 1], after: [4, 4] } }]);
  });
});

describe('weighted sampling', () => {
  it('draws class-balanced: empirical class frequencies ≈ uniform (χ² over 10⁵ draws)', () => {
    const y = Array.from({ length: 1000 }, (_, i) => (i < 800 ? 0 : i < 950 ? 1 : 2));
    const idx = flat(classBalancedSampler({ seed: 4, numSamples: 100_000 }).preview({ size: 1000, batchSize: 1000, labels: y }));
    const counts = [...countBy(idx, y).values()];
    const chi2 = counts.reduce((s, c) => s + (c - 100_000 / 3) ** 2 / (100_000 / 3), 0);
    expect(chi2).toBeLessThan(13.82); // p = 0.001, 2 degrees of freedom
  });

  it('never draws a zero weight; without replacement every index is unique', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 10, noNaN: true })), { minLength: 1, maxLength: 60 }), fc.integer(), (w, seed) => {
        const positive = w.filter((v) => v > 0).length;
        fc.pre(positive > 0);
        const r = Random.fromSeed(seed);
        for (const i of weightedDraw(w, 100, true, r)) expect(w[i]).toBeGreaterThan(0);
        const unique = weightedDraw(w, positive, false, r);
        expect(new Set(unique).size).toBe(positive);
        for (const i of unique) expect(w[i]).toBeGreaterThan(0);
      }),
    );
  });

  it('matches the weights in frequency and explains bad weights', () => {
    const draws = weightedDraw([1, 0, 3], 40_000, true, Random.fromSeed(1));
    const twos = Array.from(draws).filter((i) => i === 2).length;
    expect(Math.abs(twos / 40_000 - 0.75)).toBeLessThan(0.01);
    expect(() => weightedRandomSampler({ weights: [1, 0], numSamples: 2, replacement: false })).toThrow(/options\.numSamples: is 2 but only 1 samples have a positive weight/);
    expect(() => weightedRandomSampler({ weights: [1, -1] })).toThrow(/options\.weights\[1\]: is -1; weights must be finite and ≥ 0/);
    expect(() => weightedRandomSampler({ weights: [1, 2] }).preview({ size: 3, batchSize: 1 })).toThrow(/has 2 weights but the data has 3 samples/);
  });
});

describe('balancedBatchSampler (P classes × K samples)', () => {
  it('fills every batch with P distinct classes and K samples of each', () => {
    const y = Array.from({ length: 90 }, (_, i) => i % 5 === 0 ? 4 : i % 4);
    const plan = balancedBatchSampler({ classesPerBatch: 3, samplesPerClass: 4, seed: 1 }).preview({ size: 90, batchSize: 999, labels: y });
    expect(plan).toHaveLength(Math.floor(90 / 12));
    for (const batch of plan) {
      expect(batch.length).toBe(12);
      const counts = countBy(Array.from(batch), y);
      expect(counts.size).toBe(3);
      expect([...counts.values()]).toEqual([4, 4, 4]);
      expect(new Set(batch).size).toBe(12);
    }
    expect(() => balancedBatchSampler({ classesPerBatch: 6, samplesPerClass: 2 }).preview({ size: 90, batchSize: 1, labels: y })).toThrow(/options\.classesPerBatch: is 6 but the labels have only 5 classes/);
  });
});
