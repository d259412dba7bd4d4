import { describe, expect, it } from 'vitest';
import { drift, meanForecast, persistence, seasonalNaive } from '../baselines/baselines.js';
import { mae, mase, quantileLoss, rmse, seasonalError, smape } from './metrics.js';

describe('metrics', () => {
  it('MAE and RMSE on a hand-computed fixture', () => {
    expect(mae([1, 2, 3], [2, 2, 5])).toBe(1);
    expect(rmse([1, 2, 3], [2, 2, 5])).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('MASE of the in-sample one-step persistence forecast is exactly 1 (m = 1); a perfect forecast gives 0', () => {
    const y = [3, 7, 2, 9, 4, 4, 10, 1];
    const actual = y.slice(1);
    const persisted = y.slice(0, -1);
    expect(mase(actual, persisted, y)).toBe(1);
    expect(mase(actual, actual, y)).toBe(0);
    // seasonal: in-sample seasonal naive with period m scores 1 as well
    const s = Array.from({ length: 30 }, (_, t) => (t % 7) * 3 + Math.floor(t / 5));
    expect(mase(s.slice(7), s.slice(0, -7), s, { m: 7 })).toBeCloseTo(1, 12);
  });

  it('MASE falls back to m = 1 when m ≥ the insample length (GluonTS); a constant insample gives NaN or throws', () => {
    expect(seasonalError([1, 3, 2], 5)).toBe(seasonalError([1, 3, 2], 1));
    expect(mase([1], [2], [5, 5, 5])).toBeNaN();
    expect(() => mase([1], [2], [5, 5, 5], { zeroDivision: 'raise' })).toThrow(/constant/);
  });

  it('sMAPE is a fraction (0–2) by default, percent on request (Darts scale ×100), and 0/0 contributes 0', () => {
    const v = smape([100, 0], [110, 0]);
    expect(v).toBeCloseTo((2 * 10) / 210 / 2, 12);
    expect(smape([100, 0], [110, 0], { scale: 'percent' })).toBeCloseTo(100 * v, 10);
    expect(smape([0, 0], [0, 0])).toBe(0);
    expect(smape([1], [-1])).toBe(2);
  });

  it('quantile loss: mean pinball; GluonTS quantile_loss is 2·n times it; q = 0.5 is half the MAE', () => {
    const actual = [10, 20];
    const pred = [12, 15];
    expect(quantileLoss(actual, pred, 0.9)).toBeCloseTo((0.1 * 2 + 0.9 * 5) / 2, 12);
    const gluon = 2 * actual.reduce((s, y, i) => s + Math.abs((pred[i]! - y) * ((y <= pred[i]! ? 1 : 0) - 0.9)), 0);
    expect(2 * actual.length * quantileLoss(actual, pred, 0.9)).toBeCloseTo(gluon, 12);
    expect(quantileLoss(actual, pred, 0.5)).toBeCloseTo(mae(actual, pred) / 2, 12);
  });

  it('baselines: persistence, seasonal naive, drift, mean', () => {
    const h = Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    expect([...(persistence().predict(h, 3) as Float64Array)]).toEqual([8, 8, 8]);
    expect([...(seasonalNaive(3).predict(h, 5) as Float64Array)]).toEqual([6, 7, 8, 6, 7]);
    expect([...(drift().predict(h, 2) as Float64Array)]).toEqual([9, 10]);
    expect([...(meanForecast().predict(h, 1) as Float64Array)]).toEqual([4.5]);
    expect([...(meanForecast({ window: 2 }).predict(h, 1) as Float64Array)]).toEqual([7.5]);
  });
});
