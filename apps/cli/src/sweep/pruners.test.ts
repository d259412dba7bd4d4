// The pruners' decisions on synthetic curves, as tables against Optuna's rules (MedianPruner's tests, its
// `_is_trial_promotable_to_next_rung`) and Li et al.'s Hyperband brackets.
import { describe, expect, it } from 'vitest';
import { Random } from '@fitstream/core';
import { bracketOfTrials, hyperbandBrackets, hyperbandTrials, isFirstInIntervalStep, medianPrune, nanPercentile, successiveHalving, type Curve, type MedianPrunerOptions } from './pruners.js';

const curve = (values: readonly number[], from = 0): Curve => new Map(values.map((v, i) => [from + i, v]));
const options = (o: Partial<MedianPrunerOptions> = {}): MedianPrunerOptions => ({ startupTrials: 0, warmupEpochs: 0, interval: 1, minTrials: 1, ...o });

describe('median pruner (Optuna MedianPruner)', () => {
  it('prunes when the best value so far is worse than the median of completed trials at the same step (test_median_pruner_intermediate_values)', () => {
    const completed = [new Map([[1, 1]])];
    // A trial with no value is not pruned; one reporting 2 at step 1 is (minimising), one reporting 1 is not.
    expect(medianPrune(new Map(), completed, options(), 'min').prune).toBe(false);
    expect(medianPrune(new Map([[1, 2]]), completed, options(), 'min').prune).toBe(true);
    expect(medianPrune(new Map([[1, 1]]), completed, options(), 'min').prune).toBe(false);
    // Maximising: 0 at step 1 is worse than 1.
    expect(medianPrune(new Map([[1, 0]]), completed, options(), 'max').prune).toBe(true);
    expect(medianPrune(new Map([[1, 2]]), completed, options(), 'max').prune).toBe(false);
  });

  it.each([
    // [what, trial curve, completed curves, options, direction, prune]
    ['no completed trial', [9, 9], [], {}, 'min', false],
    ['fewer completed trials than startupTrials', [9, 9], [[1, 1]], { startupTrials: 2 }, 'min', false],
    ['startupTrials reached', [9, 9], [[1, 1], [1, 1]], { startupTrials: 2 }, 'min', true],
    ['inside the warm-up (steps 0 … warmupEpochs − 1)', [9], [[1, 1]], { warmupEpochs: 1 }, 'min', false],
    ['right after the warm-up', [9, 9], [[1, 1]], { warmupEpochs: 1 }, 'min', true],
    ['the best so far counts, not the last value', [0.1, 9], [[1, 1]], {}, 'min', false],
    ['median of three: worse than 0.7 at step 1', [1.5, 0.9], [[1, 0.5], [1, 0.7], [1, 0.8]], {}, 'min', true],
    ['median of two interpolates: 0.3 ≤ 0.3 is kept', [1, 0.3], [[1, 0.2], [1, 0.4]], {}, 'min', false],
    ['completed trials shorter than the step do not count', [9, 9, 9], [[1, 1, 1], [1, 1]], { minTrials: 2 }, 'min', false],
    ['NaN values of completed trials are ignored', [9, 9], [[1, Number.NaN], [1, 1]], {}, 'min', true],
    ['a trial whose every value is NaN is pruned', [Number.NaN, Number.NaN], [[1, 1]], {}, 'min', true],
    ['maximising accuracy: below the median', [0.5, 0.6], [[0.8, 0.9], [0.7, 0.95]], {}, 'max', true],
    ['maximising accuracy: above the median', [0.5, 0.99], [[0.8, 0.9], [0.7, 0.95]], {}, 'max', false],
  ] as const)('%s', (_what, trial, completed, opts, direction, prune) => {
    expect(medianPrune(curve(trial), completed.map((c) => curve(c)), options(opts), direction).prune).toBe(prune);
  });

  // Optuna's test_median_pruner_interval_steps: a completed trial reported 0 at every step; the pruned trial reports 2
  // every `report` steps and should_prune() is asked at every step: the steps where it says yes.
  it.each([
    [0, 1, 1, [0, 1, 2, 3, 4, 5]],
    [1, 1, 1, [1, 2, 3, 4, 5]],
    [1, 2, 1, [1, 3, 5]],
    [0, 3, 10, Array.from({ length: 29 }, (_, i) => i)],
    [2, 3, 10, Array.from({ length: 19 }, (_, i) => i + 10)],
    [0, 10, 3, [0, 1, 2, 12, 13, 14, 21, 22, 23]],
    [2, 10, 3, [3, 4, 5, 12, 13, 14, 24, 25, 26]],
  ] as const)('warm-up %i, interval %i, reports every %i steps: prunes at steps %j (Optuna)', (warmupEpochs, interval, report, expected) => {
    const last = Math.max(...expected) + 1;
    const completed = [curve(Array.from({ length: last }, () => 0))];
    const trial = new Map<number, number>();
    const pruned: number[] = [];
    for (let i = 0; i < last; i++) {
      if (i % report === 0) trial.set(i, 2);
      if (medianPrune(trial, completed, options({ warmupEpochs, interval }), 'min').prune) pruned.push(i);
    }
    expect(pruned).toEqual(expected);
  });

  it('isFirstInIntervalStep and nanPercentile follow Optuna and numpy', () => {
    expect(isFirstInIntervalStep(3, [0, 3], 2, 10)).toBe(true);
    expect(isFirstInIntervalStep(6, [0, 3, 6], 2, 10)).toBe(false);
    expect(nanPercentile([3, 1, 2], 50)).toBe(2);
    expect(nanPercentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(nanPercentile([Number.NaN, 1], 50)).toBe(1);
    expect(nanPercentile([Number.NaN], 50)).toBeNaN();
  });
});

describe('Hyperband', () => {
  it('has the brackets of Li et al. (2018), table 1: R = 81, η = 3', () => {
    const brackets = hyperbandBrackets({ minEpochs: 1, maxEpochs: 81, reductionFactor: 3 });
    expect(brackets.map((b) => [b.trials, b.rungs])).toEqual([
      [81, [1, 3, 9, 27, 81]],
      [34, [3, 9, 27, 81]],
      [15, [9, 27, 81]],
      [8, [27, 81]],
      [5, [81]],
    ]);
    expect(hyperbandTrials(brackets)).toBe(143);
  });

  it.each([
    [1, 9, 3, [[9, [1, 3, 9]], [5, [3, 9]], [3, [9]]]],
    [1, 3, 3, [[3, [1, 3]], [2, [3]]]],
    [2, 8, 2, [[4, [2, 4, 8]], [3, [4, 8]], [3, [8]]]],
    [1, 10, 3, [[9, [1, 3, 10]], [5, [3, 10]], [3, [10]]]],
    [5, 5, 3, [[1, [5]]]],
  ] as const)('minEpochs %i, maxEpochs %i, η %i: brackets %j', (minEpochs, maxEpochs, reductionFactor, expected) => {
    expect(hyperbandBrackets({ minEpochs, maxEpochs, reductionFactor }).map((b) => [b.trials, b.rungs])).toEqual(expected);
  });

  it('fills the brackets in order and repeats them', () => {
    const brackets = hyperbandBrackets({ minEpochs: 1, maxEpochs: 3, reductionFactor: 3 }); // 3 + 2 trials
    expect(bracketOfTrials(brackets, 4)).toEqual([0, 0, 0, 1]);
    expect(bracketOfTrials(brackets, 8)).toEqual([0, 0, 0, 1, 1, 2, 2, 2]);
  });

  it.each([
    // [values, direction, promoted]
    [[0.3, 0.1, 0.2], 'min', [1]],
    [[0.9, 0.5, 0.7, 0.1, 0.3, 0.8, 0.2, 0.6, 0.4], 'min', [3, 6, 4]],
    [[0.9, 0.5, 0.7, 0.1, 0.3, 0.8, 0.2, 0.6, 0.4], 'max', [0, 5, 2]],
    [[0.5, 0.4], 'min', [1]], // fewer than η: the best one
    [[0.5], 'min', [0]],
    [[Number.NaN, 0.7, 0.9], 'min', [1]], // NaN ranks last
    [[0.2, 0.2, 0.2], 'min', [0]], // ties: the earlier trial
  ] as const)('successive halving keeps the best ⌊n/η⌋ (at least 1) of %j (%s)', (values, direction, promoted) => {
    const entries = values.map((value, id) => ({ id, value }));
    const result = successiveHalving(entries, 3, direction);
    expect(result.promoted).toEqual(promoted);
    expect([...result.promoted, ...result.pruned].sort((a, b) => a - b)).toEqual(values.map((_, i) => i));
  });

  it("promotes exactly the trials Optuna's _is_trial_promotable_to_next_rung promotes once the rung is full", () => {
    // Transcribed from optuna/pruners/_successive_halving.py.
    const promotable = (value: number, competing: number[], eta: number, direction: 'min' | 'max') => {
      let idx = Math.floor(competing.length / eta) - 1;
      if (idx === -1) idx = 0;
      const sorted = [...competing].sort((a, b) => a - b);
      return direction === 'max' ? value >= sorted[sorted.length - (idx + 1)]! : value <= sorted[idx]!;
    };
    const random = Random.fromSeed(5);
    for (let n = 1; n <= 30; n++) {
      for (const eta of [2, 3, 4]) {
        for (const direction of ['min', 'max'] as const) {
          const values = Array.from({ length: n }, () => random.next()); // distinct almost surely
          const { promoted } = successiveHalving(values.map((value, id) => ({ id, value })), eta, direction);
          const optuna = values.flatMap((v, id) => (promotable(v, values, eta, direction) ? [id] : []));
          expect(promoted.sort((a, b) => a - b)).toEqual(optuna);
        }
      }
    }
  });
});
