import { describe, expect, it } from 'vitest';
import { shardRows } from './validation-shard.js';

describe('shardRows', () => {
  it('splits a batch into contiguous shares, in rank order, that cover every row exactly once', () => {
    for (const k of [1, 2, 3, 4, 7]) {
      for (let rows = k; rows <= 40; rows++) {
        const shares = Array.from({ length: k }, (_, r) => shardRows(rows, r, k));
        expect(shares[0]![0]).toBe(0);
        expect(shares[k - 1]![1]).toBe(rows);
        shares.forEach(([a, b], r) => {
          expect(b - a).toBeGreaterThanOrEqual(Math.floor(rows / k));
          expect(b - a).toBeLessThanOrEqual(Math.ceil(rows / k));
          if (r > 0) expect(a).toBe(shares[r - 1]![1]);
        });
      }
    }
  });

  it('gives every replica one row of a batch smaller than the group: the first rows, then row 0 again', () => {
    expect([0, 1, 2, 3].map((r) => shardRows(2, r, 4))).toEqual([[0, 1], [1, 2], [0, 1], [0, 1]]);
  });
});
