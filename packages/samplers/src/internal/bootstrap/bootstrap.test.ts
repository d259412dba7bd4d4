import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootstrap } from './bootstrap.js';

describe('bootstrap', () => {
  it('separates out-of-bag from in-bag: disjoint, covering, multiplicities summing to nSamples', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer(), (n, seed) => {
        const { inBag, oob, multiplicity } = bootstrap(n, { seed });
        const unique = new Set(inBag);
        expect(Array.from(oob).some((i) => unique.has(i))).toBe(false);
        expect(unique.size + oob.length).toBe(n);
        expect(multiplicity.reduce((a, b) => a + b, 0)).toBe(n);
        for (const i of unique) expect(multiplicity[i]).toBe(Array.from(inBag).filter((j) => j === i).length);
      }),
      { numRuns: 50 },
    );
  });

  it('leaves e^-1 ≈ 0.368 of the samples out of bag at n = 1000 (mean over 200 rounds)', () => {
    let sum = 0;
    for (let round = 0; round < 200; round++) sum += bootstrap(1000, { seed: 9, round }).oob.length / 1000;
    expect(Math.abs(sum / 200 - (1 - 1 / 1000) ** 1000)).toBeLessThan(0.01);
    expect(Math.abs(sum / 200 - Math.exp(-1))).toBeLessThan(0.01);
  });

  it('keeps class counts within ±1 of n_c·m/n when stratified', () => {
    const y = Array.from({ length: 97 }, (_, i) => (i < 50 ? 'a' : i < 80 ? 'b' : 'c'));
    for (let round = 0; round < 20; round++) {
      const m = 60;
      const { inBag } = bootstrap(97, { nSamples: m, stratify: y, seed: 1, round });
      for (const c of ['a', 'b', 'c']) {
        const nc = y.filter((v) => v === c).length;
        expect(Math.abs(Array.from(inBag).filter((i) => y[i] === c).length - (nc * m) / 97)).toBeLessThan(1);
      }
    }
  });

  it('subsamples without replacement, same seed same draw, and explains nSamples > n', () => {
    const a = bootstrap(20, { replace: false, nSamples: 10, seed: 3 });
    expect(new Set(a.inBag).size).toBe(10);
    expect(a.oob.length).toBe(10);
    expect(bootstrap(20, { replace: false, nSamples: 10, seed: 3 })).toEqual(a);
    expect(() => bootstrap(5, { replace: false, nSamples: 6 })).toThrow(/options\.nSamples: is 6 but there are only 5 samples to draw without replacement/);
    expect(() => bootstrap(0)).toThrow(/^n: is 0/);
  });
});
