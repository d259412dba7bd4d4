import { describe, expect, it } from 'vitest';
import { lastValueFrom, take, toArray } from 'rxjs';
import { seasonalNaive, type Forecaster } from '../baselines/baselines.js';
import { standardScaler } from '../scalers/scalers.js';
import { backtest, backtestSteps, runBacktest, toBacktestReport } from './backtest.js';

const series = Array.from({ length: 100 }, (_, t) => 50 + 10 * Math.sin((2 * Math.PI * t) / 7) + t / 10);

/** A forecaster that records what it was trained on and asserts it never sees the future. */
function spy(): Forecaster & { fits: number[][] } {
  const fits: number[][] = [];
  return {
    name: 'spy',
    fits,
    fit: (train) => void fits.push([...train]),
    predict: (history, h) => new Float64Array(h).fill(history[history.length - 1]!),
  };
}

describe('backtest', () => {
  it('emits ⌊(n − start − h)/stride⌋ + 1 steps, retrains every k steps, never trains past the cutoff', async () => {
    const model = spy();
    const steps = await lastValueFrom(backtest({ series, forecaster: model, start: 40, horizon: 5, stride: 3, retrain: 4, trainLength: 30 }).pipe(toArray()));
    expect(steps).toHaveLength(backtestSteps(100, 40, 5, 3));
    expect(steps).toHaveLength(Math.floor((100 - 40 - 5) / 3) + 1);
    expect(steps.filter((s) => s.retrained).map((s) => s.step)).toEqual([0, 4, 8, 12, 16]);
    expect(model.fits).toHaveLength(5);
    for (const s of steps) {
      expect(s.trainRange[1]).toBeLessThanOrEqual(s.cutoff + 1);
      expect(s.trainRange[1] - s.trainRange[0]).toBeLessThanOrEqual(30);
      expect([...s.actual]).toEqual(series.slice(s.cutoff + 1, s.cutoff + 6));
      expect(Object.keys(s.baselines).sort()).toEqual(['drift', 'mean', 'persistence']);
    }
  });

  it('retrain: false trains once; a factory gets a fresh model per retrain', async () => {
    const model = spy();
    await lastValueFrom(backtest({ series, forecaster: model, start: 50, retrain: false }).pipe(toArray()));
    expect(model.fits).toHaveLength(1);
    let made = 0;
    await lastValueFrom(backtest({ series, forecaster: () => (made++, spy()), start: 90, retrain: true }).pipe(toArray()));
    expect(made).toBe(10);
  });

  it('the report includes every baseline; seasonal naive is perfect on a purely seasonal series', async () => {
    const seasonal = Array.from({ length: 70 }, (_, t) => [3, 1, 4, 1, 5, 9, 2][t % 7]!);
    const report = await lastValueFrom(backtest({ series: seasonal, forecaster: seasonalNaive(7), start: 28, horizon: 7, stride: 7, m: 7, scaler: standardScaler() }).pipe(toBacktestReport({ series: seasonal, m: 7 })));
    expect(report.model.mae).toBeCloseTo(0, 10);
    expect(Object.keys(report.baselines)).toEqual(['persistence', 'seasonal-naive(7)', 'drift', 'mean']);
    expect(report.baselines['seasonal-naive(7)']!.mae).toBe(0);
    // the in-sample seasonal error is 0 too: MASE is NaN by definition (documented zero division), not a fake 0 or ∞
    expect(report.baselines['seasonal-naive(7)']!.mase).toBeNaN();
    expect(report.baselines['persistence']!.mae).toBeGreaterThan(0);
  });

  it('forecasts come back in original units through the scaler fitted on the training window', async () => {
    const identityOnScaled: Forecaster = { name: 'last', predict: (h, n) => new Float64Array(n).fill(h[h.length - 1]!) };
    const { steps, report } = await runBacktest({ series, forecaster: identityOnScaled, start: 80, scaler: standardScaler(), baselines: [] });
    steps.forEach((s) => expect(s.forecast[0]).toBeCloseTo(series[s.cutoff]!, 8));
    expect(report.model.mase).toBeGreaterThan(0);
  });

  it('is cold and can stop early', async () => {
    const model = spy();
    const first = await lastValueFrom(backtest({ series, forecaster: model, start: 10 }).pipe(take(2), toArray()));
    expect(first).toHaveLength(2);
    expect(model.fits.length).toBeLessThanOrEqual(3);
    expect(() => backtest({ series, forecaster: model, start: 100 })).toThrow(/runs past/);
  });
});
