import fc from 'fast-check';
import { Random, StateProvider, createChildContainer, pluginRegistry, resolveAll } from '@fitstream/core';
import { describe, expect, it } from 'vitest';
import { sequentialSampler, shuffleSampler } from './basic.js';

const flat = (batches: readonly Int32Array[]) => batches.flatMap((b) => Array.from(b));

describe('sequentialSampler and shuffleSampler', () => {
  it('plan ⌈n/b⌉ batches by default (dropLast: false, as the trainer and Keras) and ⌊n/b⌋ with dropLast; a shuffle is a permutation per epoch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 50 }), (n, b, epoch) => {
        const keep = shuffleSampler({ seed: 1 }).preview({ size: n, batchSize: b, epoch });
        expect(keep).toHaveLength(Math.ceil(n / b));
        expect(flat(keep).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
        if (n >= b) {
          const drop = shuffleSampler({ seed: 1, dropLast: true }).preview({ size: n, batchSize: b, epoch });
          expect(drop).toHaveLength(Math.floor(n / b));
          expect(drop.every((x) => x.length === b)).toBe(true);
        }
      }),
    );
    expect(flat(sequentialSampler().preview({ size: 5, batchSize: 2 }))).toEqual([0, 1, 2, 3, 4]);
  });

  it('never emits a batch smaller than minBatch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), (n, b, minBatch) => {
        fc.pre(n >= Math.min(b, minBatch));
        const plan = sequentialSampler({ minBatch }).preview({ size: n, batchSize: b });
        expect(plan.every((x) => x.length >= Math.min(minBatch, b))).toBe(true);
        const tail = n % b;
        expect(plan).toHaveLength(Math.floor(n / b) + (tail > 0 && tail >= minBatch ? 1 : 0));
      }),
    );
  });

  it('gives different orders for different epochs and seeds, and the trainer-seeded stream when no seed is given', () => {
    const s = shuffleSampler({ seed: 3, dropLast: false });
    expect(flat(s.preview({ size: 30, batchSize: 30, epoch: 0 }))).not.toEqual(flat(s.preview({ size: 30, batchSize: 30, epoch: 1 })));
    const t = shuffleSampler({ dropLast: false });
    expect(t.preview({ size: 30, batchSize: 5, trainerSeed: 1 })).toEqual(t.preview({ size: 30, batchSize: 5, trainerSeed: 1 }));
    expect(t.preview({ size: 30, batchSize: 5, trainerSeed: 1 })).not.toEqual(t.preview({ size: 30, batchSize: 5, trainerSeed: 2 }));
  });

  it('reports each plan once, and refuses to resume a checkpoint written with other settings', () => {
    const s = shuffleSampler({ seed: 3 });
    const reports: unknown[] = [];
    s.plans$.subscribe((r) => reports.push(r));
    const plan = (epoch: number) => s.sampler.plan({ size: 10, batchSize: 4, epoch, random: Random.fromSeed(0).derive('x', epoch), labels: () => new Int32Array(10) });
    plan(2);
    plan(2);
    expect(reports).toEqual([{ sampler: 'shuffle-sampler', epoch: 2, samples: 10, batches: 3 }]);

    const stateOf = (plugin: ReturnType<typeof shuffleSampler>) => {
      const container = createChildContainer();
      plugin.register(pluginRegistry(container));
      return resolveAll(container, StateProvider)[0]!;
    };
    const saved = stateOf(s).getState();
    expect(() => stateOf(shuffleSampler({ seed: 3 })).setState(saved)).not.toThrow();
    expect(() => stateOf(shuffleSampler({ seed: 4 })).setState(saved)).toThrow(/sampler "shuffle-sampler" was checkpointed with other settings/);
  });

  it('explains bad policies and epochs too small for one batch', () => {
    expect(() => shuffleSampler({ dropLast: true, minBatch: 3 })).toThrow(/options\.minBatch: has no effect with dropLast: true/);
    expect(() => shuffleSampler({ minBatch: 0 })).toThrow(/options\.minBatch: must be an integer ≥ 1/);
    expect(() => shuffleSampler({ dropLast: true }).preview({ size: 10, batchSize: 32 })).toThrow(/options\.batchSize: Sampler "shuffle-sampler" has 10 samples this epoch, no batch of 32 with dropLast: true; lower batchSize or set dropLast: false/);
    expect(() => shuffleSampler({ seed: 1.5 })).toThrow(/options\.seed: a seed must be a safe integer or a string/);
  });
});
