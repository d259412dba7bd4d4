import type { Random } from '@fitstream/core';

/**
 * scikit-learn's `_approximate_mode`: splits `draws` over classes in proportion to `counts`. Each class gets the floor
 * of its exact share; the units left go to the largest fractional parts, ties broken at random (by `random`).
 * Integer arithmetic keeps ties exact. Every class ends within one unit of its exact share.
 */
export function approximateMode(counts: readonly number[], draws: number, random: Random): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return counts.map(() => 0);
  const out = counts.map((c) => Math.floor((c * draws) / total));
  let left = draws - out.reduce((a, b) => a + b, 0);
  if (left <= 0) return out;
  // Remainders as exact integers: (c·draws) mod total.
  const rem = counts.map((c) => (c * draws) % total);
  const values = [...new Set(rem)].sort((a, b) => b - a);
  for (const value of values) {
    if (value === 0) break;
    const tied = rem.flatMap((r, i) => (r === value ? [i] : []));
    random.shuffleInPlace(tied);
    const now = Math.min(tied.length, left);
    for (let j = 0; j < now; j++) out[tied[j]!]! += 1;
    left -= now;
    if (left === 0) break;
  }
  return out;
}
