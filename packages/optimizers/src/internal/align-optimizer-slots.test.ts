// tfjs indexes an optimizer's slots by the position of a variable in the gradients, not by its name. These tests
// show the hazard when a variable drops out of the update (a frozen layer) and how alignment keeps each variable's
// own state: a variable that stays trainable continues exactly as if the others had never been there.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alignOptimizerSlots, applyOptimizerUpdate, renameOptimizerSlots } from '../index.js';
import { disposeTracked, tensor, variable } from '../test-support/tracked-tensors.js';

interface Slot {
  originalName: string;
  variable: tf.Variable;
}
type AdamSlots = { accumulatedFirstMoment: Slot[]; accumulatedSecondMoment: Slot[] };

function slotNames(optimizer: tf.Optimizer): string[] {
  return (optimizer as unknown as AdamSlots).accumulatedFirstMoment.map((s) => s.originalName);
}
function firstMoment(optimizer: tf.Optimizer, i: number): number[] {
  return Array.from((optimizer as unknown as AdamSlots).accumulatedFirstMoment[i]!.variable.dataSync());
}

describe('alignOptimizerSlots', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    disposeTracked();
  });

  it('without it, a variable that moves up a position takes the moments of the variable before it (the hazard)', () => {
    const [a, b] = [variable([1, 1], 'hazard/a'), variable([1, 1], 'hazard/b')];
    const optimizer = tf.train.adam(0.1);
    applyOptimizerUpdate(optimizer, { [a.name]: tensor([1, 1]), [b.name]: tensor([-4, -4]) });
    applyOptimizerUpdate(optimizer, { [b.name]: tensor([-4, -4]) }); // a frozen: b now sits at position 0
    expect(slotNames(optimizer)).toEqual(['hazard/a/m', 'hazard/b/m']);
    // b's gradient went into a's slot (0.9·0.1 + 0.1·(−4) = −0.31) while b's own moment (−0.4) stayed as it was.
    expect(firstMoment(optimizer, 0)[0]).toBeCloseTo(-0.31, 6);
    expect(firstMoment(optimizer, 1)[0]).toBeCloseTo(-0.4, 6);
    optimizer.dispose();
  });

  it('keeps each variable’s own slots when one is frozen, and parks the frozen one’s after the active ones', () => {
    const [a, b, c] = [variable([1, 2], 'freeze/a'), variable([3, 4], 'freeze/b'), variable([5, 6], 'freeze/c')];
    const [aRef, cRef] = [variable([1, 2], 'freeze/aRef'), variable([5, 6], 'freeze/cRef')];
    const optimizer = tf.train.adam(0.1);
    const reference = tf.train.adam(0.1);
    const [ga, gb, gc] = [tensor([0.5, -1]), tensor([2, 2]), tensor([-3, 0.25])];

    applyOptimizerUpdate(optimizer, { [a.name]: ga, [b.name]: gb, [c.name]: gc });
    applyOptimizerUpdate(reference, { [aRef.name]: ga, [cRef.name]: gc });
    const bMoments = firstMoment(optimizer, 1);
    const bWeights = Array.from(b.dataSync());

    expect(alignOptimizerSlots(optimizer, [a.name, c.name])).toBe(true);
    expect(slotNames(optimizer)).toEqual(['freeze/a/m', 'freeze/c/m', 'freeze/b/m']);
    expect((optimizer as unknown as AdamSlots).accumulatedSecondMoment.map((s) => s.originalName)).toEqual(['freeze/a/v', 'freeze/c/v', 'freeze/b/v']);
    expect(firstMoment(optimizer, 2)).toEqual(bMoments); // parked, not disposed

    // a and c continue exactly as they would had b never been trained: same moments, same weights.
    applyOptimizerUpdate(optimizer, { [a.name]: ga, [c.name]: gc });
    applyOptimizerUpdate(reference, { [aRef.name]: ga, [cRef.name]: gc });
    expect(Array.from(a.dataSync())).toEqual(Array.from(aRef.dataSync()));
    expect(Array.from(c.dataSync())).toEqual(Array.from(cRef.dataSync()));
    expect(Array.from(b.dataSync())).toEqual(bWeights); // frozen: untouched since the first step

    // Unfrozen again: b finds its own moments.
    expect(alignOptimizerSlots(optimizer, [a.name, b.name, c.name])).toBe(true);
    expect(slotNames(optimizer)).toEqual(['freeze/a/m', 'freeze/b/m', 'freeze/c/m']);
    expect(firstMoment(optimizer, 1)).toEqual(bMoments);
    optimizer.dispose();
    reference.dispose();
  });

  it('returns false and changes nothing when the slots are already in order (or the optimizer has none yet)', () => {
    const [a, b] = [variable([1], 'order/a'), variable([2], 'order/b')];
    const optimizer = tf.train.rmsprop(0.1, 0.9, 0.5, 1e-7, true);
    expect(alignOptimizerSlots(optimizer, [a.name, b.name])).toBe(false); // no update yet: nothing to align
    applyOptimizerUpdate(optimizer, { [a.name]: tensor([1]), [b.name]: tensor([1]) });
    const before = (optimizer as unknown as { accumulatedMeanGrads: Slot[] }).accumulatedMeanGrads.slice();
    expect(alignOptimizerSlots(optimizer, [a.name, b.name])).toBe(false);
    expect((optimizer as unknown as { accumulatedMeanGrads: Slot[] }).accumulatedMeanGrads).toEqual(before);
    optimizer.dispose();
  });

  it('gives a variable that becomes trainable after the first update zero slots named after it, in every slot array', () => {
    const [a, late] = [variable([1, 2], 'late/a'), variable([3, 4, 5], 'late/late')];
    const optimizer = tf.train.rmsprop(0.1, 0.9, 0.5, 1e-7, true); // three slot arrays: rms, momentum, mg
    applyOptimizerUpdate(optimizer, { [a.name]: tensor([1, 1]) });
    const tensorsBefore = tf.memory().numTensors;
    expect(alignOptimizerSlots(optimizer, [late.name, a.name])).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore + 3); // one zero slot per array, nothing else left behind
    const o = optimizer as unknown as Record<'accumulatedMeanSquares' | 'accumulatedMoments' | 'accumulatedMeanGrads', Slot[]>;
    expect(o.accumulatedMeanSquares.map((s) => s.originalName)).toEqual(['late/late/rms', 'late/a/rms']);
    expect(o.accumulatedMoments.map((s) => s.originalName)).toEqual(['late/late/momentum', 'late/a/momentum']);
    expect(o.accumulatedMeanGrads.map((s) => s.originalName)).toEqual(['late/late/mg', 'late/a/mg']);
    for (const slots of [o.accumulatedMeanSquares, o.accumulatedMoments, o.accumulatedMeanGrads]) {
      expect(Array.from(slots[0]!.variable.dataSync())).toEqual([0, 0, 0]);
      expect(slots[0]!.variable.trainable).toBe(false);
    }
    optimizer.dispose();
  });

  it('refuses a name that is no registered variable', () => {
    const a = variable([1], 'missing/a');
    const optimizer = tf.train.adam(0.1);
    applyOptimizerUpdate(optimizer, { [a.name]: tensor([1]) });
    expect(() => alignOptimizerSlots(optimizer, ['missing/nothing', a.name])).toThrow('no variable named "missing/nothing" is registered');
    optimizer.dispose();
  });
});

describe('renameOptimizerSlots', () => {
  afterEach(() => {
    disposeTracked();
  });

  it('renames slots after their variables, keeps the suffixes and leaves unmapped names alone', async () => {
    const [a, b] = [variable([1], 'writer/a'), variable([2], 'writer/b')];
    const optimizer = tf.train.adam(0.1);
    applyOptimizerUpdate(optimizer, { [a.name]: tensor([1]), [b.name]: tensor([1]) });
    renameOptimizerSlots(optimizer, new Map([['writer/a', 'reader/a']]));
    const names = (await optimizer.getWeights()).map((w) => w.name);
    expect(names).toEqual(['iter', 'reader/a/m', 'writer/b/m', 'reader/a/v', 'writer/b/v']);
    optimizer.dispose();
  });
});
