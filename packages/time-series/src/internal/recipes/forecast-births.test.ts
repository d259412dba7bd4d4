import { describe, expect, it } from 'vitest';
import { loadUsBirths } from '@fitstream/datasets';
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
});
