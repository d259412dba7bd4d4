import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { temporalSplit, windowCount, windows } from './windows.js';
import { windowTensors } from './window-tensors.js';

describe('windows', () => {
  it('counts match the formula max(0, ⌊(end − 1 − span − start)/stride⌋ + 1) over a grid of specs', () => {
    for (const n of [1, 5, 17, 40]) {
      for (const L of [1, 3, 5]) for (const H of [0, 1, 3]) for (const o of [0, 1, 2]) for (const s of [1, 2, 3]) for (const r of [1, 2]) {
        const spec = { inputLength: L, horizon: H, offset: o, stride: s, samplingRate: r };
        const w = windows([2, n + 2], spec);
        // brute force: every start p ≡ 2 (mod s) whose last index read stays below the end
        let brute = 0;
        for (let p = 2; p < n + 2; p += s) {
          const last = H > 0 ? p + (L - 1) * r + o + H - 1 : p + (L - 1) * r;
          if (last < n + 2) brute++;
        }
        expect(w.count, JSON.stringify({ n, ...spec })).toBe(brute);
      }
    }
  });

  it('reproduces the Keras timeseries_dataset_from_array doc example: 99 points, L 10, rate 2, stride 3 → 27 windows, last [78 … 96]', () => {
    const w = windows([0, 99], { inputLength: 10, samplingRate: 2, stride: 3, horizon: 0 });
    expect(w.count).toBe(27);
    expect(w.startOf(0)).toBe(0);
    expect(w.startOf(1)).toBe(3);
    expect([...w.inputIndex(26)]).toEqual([78, 80, 82, 84, 86, 88, 90, 92, 94, 96]);
    // Keras: num_seqs = end − start − (L−1)·r, starts arange(0, num_seqs, stride)
    expect(windowCount(99, { inputLength: 10, samplingRate: 2, stride: 3, horizon: 0 })).toBe(Math.ceil((99 - 9 * 2) / 3));
  });

  it('for data[t] = t every target equals lastInput + offset + j', () => {
    const data = Array.from({ length: 60 }, (_, t) => t);
    for (const spec of [{ inputLength: 4 }, { inputLength: 5, horizon: 3, offset: 2, stride: 2, samplingRate: 3 }, { inputLength: 1, horizon: 4, offset: 0 }]) {
      const { x, y, windows: w } = windowTensors(data, { ...spec, range: [5, 55] });
      const xs = x.arraySync();
      const ys = y.arraySync() as number[][];
      for (let i = 0; i < w.count; i++) {
        const inputs = xs[i]!.map((row) => row[0]!);
        expect(inputs).toEqual([...w.inputIndex(i)]);
        const last = inputs[inputs.length - 1]!;
        ys[i]!.forEach((v, j) => expect(v).toBe(last + w.spec.offset + j));
        expect(Math.min(...inputs)).toBeGreaterThanOrEqual(5);
        expect(ys[i]![ys[i]!.length - 1]).toBeLessThan(55);
      }
      tf.dispose([x, y]);
    }
  });

  it('splits on time first: no window of a split reads outside it; history overlap only reaches back with its inputs', () => {
    const n = 200;
    const { train, val, test } = temporalSplit(n, { val: 0.15, test: 0.15 });
    expect(train).toEqual([0, 140]);
    expect(val).toEqual([140, 170]);
    expect(test).toEqual([170, 200]);
    const spec = { inputLength: 12, horizon: 4, stride: 1 };
    for (const range of [train, val!, test]) {
      const w = windows(range, spec);
      for (let i = 0; i < w.count; i++) {
        expect(w.inputIndex(i)[0]).toBeGreaterThanOrEqual(range[0]);
        expect(w.targetIndex(i)[3]).toBeLessThan(range[1]);
      }
    }
    const overlap = windows(test, { ...spec, allowHistoryOverlap: true });
    expect(overlap.targetIndex(0)[0]).toBe(test[0]); // the first target is the first test step
    expect(overlap.inputIndex(0)[0]).toBeLessThan(test[0]); // its history lies in the earlier split
    for (let i = 0; i < overlap.count; i++) expect(overlap.targetIndex(i)[0]).toBeGreaterThanOrEqual(test[0]);
    expect(overlap.count).toBe(test[1] - test[0] - 3);
  });

  it('multivariate inputs, chosen target columns and known-future covariates', () => {
    const rows = Array.from({ length: 20 }, (_, t) => [t, 100 + t, 1000 + t]);
    const calendar = Array.from({ length: 20 }, (_, t) => [t % 7]);
    const { x, y, xFuture } = windowTensors(rows, { inputLength: 3, horizon: 2, targetColumns: [1, 2], futureCovariates: calendar });
    expect(x.shape).toEqual([16, 3, 3]);
    expect(y.shape).toEqual([16, 2, 2]);
    expect((y.arraySync() as number[][][])[0]).toEqual([[103, 1003], [104, 1004]]);
    expect(xFuture!.arraySync()[5]!.map((r) => r[0])).toEqual([8 % 7, 9 % 7]);
    tf.dispose([x, y, xFuture!]);
  });

  it('rejects bad specs with errors naming the argument', () => {
    expect(() => windows(10, { inputLength: 0 })).toThrow(/inputLength/);
    expect(() => windows(10, { inputLength: 2, stride: 0 })).toThrow(/stride/);
    expect(() => windowTensors([1, 2, 3], { inputLength: 5 })).toThrow(/too short/);
  });
});
