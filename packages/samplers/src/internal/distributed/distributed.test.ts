import fc from 'fast-check';
import { Random } from '@fitstream/core';
import { describe, expect, it } from 'vitest';
import { shuffleSampler } from '../batch/basic.js';
import { balancedBatchSampler } from '../rebalance/balanced-batches.js';
import { distributed, evaluationShard, shardIndices } from './distributed.js';

const flat = (batches: readonly Int32Array[]) => batches.flatMap((b) => Array.from(b));

describe('distributed (PyTorch DistributedSampler semantics)', () => {
  const cases = [1, 2, 3, 4, 8].flatMap((r) => [r - 1, r, r + 1, 10, 1000].filter((n) => n > 0).map((n) => [n, r] as const));

  it.each(cases)('N=%i R=%i padded: equal lengths ⌈N/R⌉, union = all, the R·⌈N/R⌉−N duplicates are the head of the permutation', (n, r) => {
    const global = shuffleSampler({ seed: 5 }).source.indices({ size: n, batchSize: 1, epoch: 2, random: streamFor(0, 2), labels: () => new Int32Array(), stream: streamFor(5, 2) }).indices;
    const shards = Array.from({ length: r }, (_, rank) => shardIndices(global, { rank, worldSize: r }));
    const per = Math.ceil(n / r);
    for (const s of shards) expect(s.length).toBe(per);
    const all = shards.flatMap((s) => Array.from(s));
    expect(new Set(all).size).toBe(n);
    const counts = new Map<number, number>();
    for (const i of all) counts.set(i, (counts.get(i) ?? 0) + 1);
    const duplicates = [...counts].flatMap(([i, c]) => new Array<number>(c - 1).fill(i)).sort((a, b) => a - b);
    expect(duplicates.length).toBe(r * per - n);
    const head: number[] = [];
    for (let i = 0; i < r * per - n; i++) head.push(global[i % n]!);
    expect(duplicates).toEqual(head.sort((a, b) => a - b));
  });

  it.each(cases)('N=%i R=%i unpadded: disjoint shards totalling R·⌊N/R⌋', (n, r) => {
    const global = Int32Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const shards = Array.from({ length: r }, (_, rank) => Array.from(shardIndices(global, { rank, worldSize: r, pad: false })));
    const all = shards.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(r * Math.floor(n / r));
    for (const s of shards) expect(s.length).toBe(Math.floor(n / r));
  });

  it('every rank derives the same global permutation; ranks get strided shards; epochs differ', () => {
    const plugins = [0, 1, 2].map((rank) => distributed(shuffleSampler({ seed: 11, dropLast: false }), { rank, worldSize: 3 }));
    const shards = plugins.map((p) => flat(p.preview({ size: 30, batchSize: 4, epoch: 1 })));
    // The global list is what a world of one sees (the stream name carries no rank or world size).
    const global = flat(distributed(shuffleSampler({ seed: 11, dropLast: false }), { rank: 0, worldSize: 1 }).preview({ size: 30, batchSize: 30, epoch: 1 }));
    const rebuilt = Array.from({ length: 30 }, (_, i) => shards[i % 3]![Math.floor(i / 3)]!);
    expect(rebuilt).toEqual(global);
    expect(flat(plugins[0]!.preview({ size: 30, batchSize: 4, epoch: 2 }))).not.toEqual(shards[0]);
    // Without a seed, ranks share the trainer seed's stream (the plugin name carries no rank).
    const unseeded = [0, 1].map((rank) => distributed(shuffleSampler({ dropLast: false }), { rank, worldSize: 2 }));
    const a = flat(unseeded[0]!.preview({ size: 10, batchSize: 5, trainerSeed: 9 }));
    const b = flat(unseeded[1]!.preview({ size: 10, batchSize: 5, trainerSeed: 9 }));
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("shards exactly the inner sampler's own order, seeded or drawn from the trainer seed", () => {
    for (const options of [{ seed: 11 }, {}] as const) {
      const inner = flat(shuffleSampler(options).preview({ size: 30, batchSize: 30, epoch: 3, trainerSeed: 4 }));
      const shards = [0, 1, 2].map((rank) => flat(distributed(shuffleSampler(options), { rank, worldSize: 3 }).preview({ size: 30, batchSize: 10, epoch: 3, trainerSeed: 4 })));
      expect(Array.from({ length: 30 }, (_, i) => shards[i % 3]![Math.floor(i / 3)]!)).toEqual(inner);
      const alone = flat(distributed(shuffleSampler(options), { rank: 0, worldSize: 1 }).preview({ size: 30, batchSize: 7, epoch: 3, trainerSeed: 4 }));
      expect(alone).toEqual(inner);
    }
  });

  it('the evaluation shard scores every index exactly once across ranks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 9 }), (n, r) => {
        const all = Array.from({ length: r }, (_, rank) => Array.from(evaluationShard(n, { rank, worldSize: r }))).flat();
        expect(all.sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
    expect(Array.from(evaluationShard(10, { rank: 1, worldSize: 4 }))).toEqual([1, 5, 9]);
  });

  it('explains bad ranks and unshardable samplers', () => {
    expect(() => distributed(shuffleSampler(), { rank: 2, worldSize: 2 })).toThrow(/options\.rank: must be an integer in \[0, 1\] \(worldSize 2\), got 2/);
    expect(() => distributed(shuffleSampler(), { rank: 0, worldSize: 0 })).toThrow(/options\.worldSize: must be an integer ≥ 1/);
    expect(() => distributed(balancedBatchSampler({ classesPerBatch: 2, samplesPerClass: 2 }), { rank: 0, worldSize: 2 })).toThrow(/plans whole batches/);
  });
});

function streamFor(seed: number, epoch: number): Random {
  return Random.fromSeed(seed).derive('test', epoch);
}
