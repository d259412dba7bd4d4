import { describe, expect, it } from 'vitest';
import { loadUsBirths } from '@fitstream/datasets';
import { seasonalNaive } from '../baselines/baselines.js';
import { forecastBirths } from './forecast-births.js';

describe('forecastBirths (US births, walk-forward backtest)', () => {
  it('an LSTM beats seasonal naive (m = 7) on MASE', async () => {
    const { births } = await loadUsBirths();
    const started = performance.now();
    const { report, steps } = await forecastBirths({ series: births, folds: 3, stepsPerFold: 4, epochs: 5, units: 16, backend: 'wasm' });
    const snaive = report.baselines['seasonal-naive(7)']!;
    console.log(`births backtest (${((performance.now() - started) / 1000).toFixed(1)} s): LSTM MASE ${report.model.mase.toFixed(3)}, seasonal naive ${snaive.mase.toFixed(3)}, persistence ${report.baselines['persistence']!.mase.toFixed(3)}; sMAPE ${report.model.smape.toFixed(4)} vs ${snaive.smape.toFixed(4)}`);
    expect(steps).toHaveLength(12);
    expect(steps.filter((s) => s.retrained)).toHaveLength(3);
    expect(report.model.mase).toBeLessThan(snaive.mase);
  }, 90_000);

  it('builds the model of each fold with `forecaster(fold)`, scores against seasonal naive with period `m`, keeps a fraction of a year', async () => {
    // A weekly pattern with a 5-day ripple on top: no daily birth data needed, no training.
    const series = Array.from({ length: 1200 }, (_, t) => 1000 + 50 * Math.sin((2 * Math.PI * t) / 7) + 10 * ((t % 5) - 2));
    const folds: number[] = [];
    const { report, steps, seriesLength } = await forecastBirths({
      series,
      years: 2.5,
      folds: 2,
      stepsPerFold: 3,
      m: 5,
      backend: 'current',
      forecaster: (fold) => {
        folds.push(fold);
        return { ...seasonalNaive(7), name: `weekly fold ${fold}` };
      },
    });
    expect(seriesLength).toBe(913); // round(2.5 × 365.25) days
    expect(folds).toEqual([0, 1]);
    expect(steps).toHaveLength(6);
    expect(Object.keys(report.baselines)).toContain('seasonal-naive(5)');
  });

  it('names the option that is out of range', async () => {
    await expect(forecastBirths({ series: [1, 2, 3], years: 0 })).rejects.toThrow(/options\.years/);
    await expect(forecastBirths({ series: [1, 2, 3], m: 0 })).rejects.toThrow(/options\.m/);
  });
});
