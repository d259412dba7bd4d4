import { describe, expect, it } from 'vitest';
import { windows } from '../windowing/windows.js';
import { expandingWindow, slidingWindow, timeSeriesSplit } from './splitters.js';

const ranges = (folds: Iterable<{ train: Int32Array; test: Int32Array }>) => [...folds].map((f) => [[...f.train], [...f.test]]);

describe('timeSeriesSplit (scikit-learn TimeSeriesSplit)', () => {
  it('n = 10, k = 3: tests [4,5] [6,7] [8,9], trains [0..3] [0..5] [0..7]; with gap 1 the trains lose their last point', () => {
    expect(ranges(timeSeriesSplit({ nSplits: 3 }).split(10))).toEqual([
      [[0, 1, 2, 3], [4, 5]],
      [[0, 1, 2, 3, 4, 5], [6, 7]],
      [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]],
    ]);
    expect(ranges(timeSeriesSplit({ nSplits: 3, gap: 1 }).split(10)).map(([train]) => train)).toEqual([[0, 1, 2], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]]);
  });

  it('maxTrainSize keeps the last points (0 means unbounded); testSize sets the blocks and the last ends at n − 1', () => {
    expect(ranges(timeSeriesSplit({ nSplits: 3, maxTrainSize: 3 }).split(10)).map(([t]) => t)).toEqual([[1, 2, 3], [3, 4, 5], [5, 6, 7]]);
    expect(ranges(timeSeriesSplit({ nSplits: 3, maxTrainSize: 0 }).split(10))[0]![0]).toEqual([0, 1, 2, 3]);
    const folds = [...timeSeriesSplit({ nSplits: 4, testSize: 3, gap: 2 }).split(31)];
    expect(folds[3]!.testRange).toEqual([28, 31]);
    folds.forEach((f, i) => {
      expect(f.test.length).toBe(3);
      if (i > 0) expect(f.testRange[0]).toBe(folds[i - 1]!.testRange[1]); // contiguous, non-overlapping, increasing
    });
  });

  it('raises as scikit-learn does', () => {
    expect(() => [...timeSeriesSplit({ nSplits: 5 }).split(5)]).toThrow(/need more than 5 samples|5 folds need/);
    expect(() => [...timeSeriesSplit({ nSplits: 3, testSize: 4, gap: 0 }).split(12)]).toThrow(/no training data/);
  });

  it('walk-forward never trains on the future: max(train) + gap < min(test), also for window targets', () => {
    for (const splitter of [timeSeriesSplit({ nSplits: 5, gap: 3 }), expandingWindow({ initialWindow: 30, stepLength: 7, fh: 7 }), slidingWindow({ windowLength: 25, stepLength: 5, fh: [2, 4] })]) {
      for (const f of splitter.split(120)) {
        expect(Math.max(...f.train) + f.gap).toBeLessThan(Math.min(...f.test));
        // windows inside the training span: every target index is before the first test index
        const w = windows(f.trainRange, { inputLength: 5, horizon: 2 });
        for (let i = 0; i < w.count; i++) expect(Math.max(...w.targetIndex(i)) + f.gap).toBeLessThan(Math.min(...f.test));
      }
    }
  });
});

describe('expanding and sliding windows (sktime)', () => {
  it('Expanding(fh=[2,4], initial 5, step 2) on 10 points gives only ([0..4], [6,8])', () => {
    expect(ranges(expandingWindow({ initialWindow: 5, stepLength: 2, fh: [2, 4] }).split(10))).toEqual([[[0, 1, 2, 3, 4], [6, 8]]]);
  });

  it('expanding: train_i ⊂ train_{i+1}; sliding: constant size, equal steps', () => {
    const exp = [...expandingWindow({ initialWindow: 10, stepLength: 3, fh: 2 }).split(40)];
    exp.slice(1).forEach((f, i) => {
      expect(f.trainRange[0]).toBe(0);
      expect(f.trainRange[1] - exp[i]!.trainRange[1]).toBe(3);
    });
    const sl = [...slidingWindow({ windowLength: 8, stepLength: 4, fh: 1 }).split(40)];
    expect(sl.map((f) => f.trainRange)).toEqual(Array.from({ length: 8 }, (_, i) => [4 * i, 4 * i + 8]));
    expect(sl.every((f) => f.train.length === 8)).toBe(true);
    expect(sl[sl.length - 1]!.test[0]).toBeLessThan(40);
  });
});
