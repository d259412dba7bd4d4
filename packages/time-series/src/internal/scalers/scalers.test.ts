import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { seasonalNaive } from '../baselines/baselines.js';
import { backtest } from '../validation/backtest.js';
import { timeSeriesSplit } from '../validation/splitters.js';
import { minMaxScaler, robustScaler, standardScaler } from './scalers.js';

describe('scalers', () => {
  it('standard, min-max and robust statistics, and inverse transforms back to original units', () => {
    const x = [1, 2, 3, 4, 100];
    const s = standardScaler().fit(x);
    expect(s.center[0]).toBeCloseTo(22);
    expect(s.scale[0]).toBeCloseTo(Math.sqrt((21 ** 2 + 20 ** 2 + 19 ** 2 + 18 ** 2 + 78 ** 2) / 5));
    const m = minMaxScaler({ featureRange: [-1, 1] }).fit(x);
    expect([...m.transformColumn([1, 100])]).toEqual([-1, 1]);
    const r = robustScaler().fit(x);
    expect(r.center[0]).toBe(3);
    expect(r.scale[0]).toBe(2);
    for (const f of [s, m, r]) {
      const back = f.inverse(f.transformColumn(x));
      back.forEach((v, i) => expect(v).toBeCloseTo(x[i]!, 10));
    }
  });

  it('scales columns of rows separately; a constant column scales by 1', () => {
    const rows = [[1, 5], [3, 5]];
    const f = standardScaler().fit(rows);
    expect(f.center).toEqual([2, 5]);
    expect(f.scale).toEqual([1, 1]);
    expect((f.transform(rows) as Float64Array[]).map((r) => [...r])).toEqual([[-1, 0], [1, 0]]);
    expect([...f.inverse([0], 1)]).toEqual([5]);
  });

  it('leakage canary: adding a huge constant to the future changes no fold-fitted scaler', async () => {
    const y = Array.from({ length: 120 }, (_, t) => Math.sin(t / 5) + t / 50);
    const cutoff = 80;
    const poisoned = y.map((v, t) => (t >= cutoff ? v + 1e6 : v));
    for (const scaler of [standardScaler(), minMaxScaler(), robustScaler()]) {
      for (const fold of timeSeriesSplit({ nSplits: 4, testSize: 10 }).split(y.length)) {
        if (fold.trainRange[1] > cutoff) continue;
        expect(scaler.fit(poisoned, fold.trainRange).toJSON()).toEqual(scaler.fit(y, fold.trainRange).toJSON());
      }
      const run = async (series: number[]) => lastValueFrom(backtest({ series, forecaster: seasonalNaive(5), start: 60, horizon: 5, stride: 5, retrain: 2, scaler, baselines: [] }).pipe(toArray()));
      const clean = await run(y);
      const dirty = await run(poisoned);
      clean.forEach((step, i) => {
        if (step.cutoff < cutoff) {
          expect(dirty[i]!.scaler).toEqual(step.scaler);
          expect(step.trainRange[1]).toBe(step.retrained ? step.cutoff + 1 : step.trainRange[1]);
        }
      });
    }
  });
});
