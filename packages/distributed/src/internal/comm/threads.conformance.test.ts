import { describe, expect, it } from 'vitest';
import type { ConformanceReport } from '../../test-support/conformance.js';
import { launchThreads } from '../../test-support/launch-helpers.js';

describe('threads engine: the communicator conformance suite', () => {
  for (const n of [1, 2, 3, 4]) {
    it(`world of ${n}: exact sums, avg/max, broadcast, allgather, barriers, back-to-back, identical on every rank`, async () => {
      // A small shared buffer forces the chunked path (300 007 values through 64 KiB slots).
      const result = await launchThreads('./conformance-worker.ts', n, { bufferBytes: 64 * 1024, timeoutMs: 30_000 });
      expect(result.attempts[0]!.failures).toEqual([]);
      const reports = result.results as ConformanceReport[];
      expect(reports).toHaveLength(n);
      for (const r of reports) {
        expect(r.failures).toEqual([]);
        expect(r.backend).toBe('threads');
        expect(r.checks).toBeGreaterThan(40);
        expect(r.digests).toEqual(reports[0]!.digests);
      }
    });
  }

  it('one-barrier all-reduces back to back, with one rank lagging at a time, stay exact (the halves alternate)', async () => {
    for (const n of [2, 3]) {
      const result = await launchThreads('./fast-reduce-worker.ts', n, { timeoutMs: 30_000 });
      expect(result.attempts[0]!.failures).toEqual([]);
      for (const r of result.results as { wrong: number; checks: number }[]) expect(r).toEqual({ rank: expect.any(Number), wrong: 0, checks: 3000 * 252.25 });
    }
  });
});
