import { formatNumber } from './format.js';

/** Report sections of the experiment recipes, rendered from their JSON records in the run directory. */

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Forecast accuracy of one forecaster (as @fitstream/time-series' `ForecastScores`). */
export interface Scores {
  readonly mae: number;
  readonly rmse: number;
  readonly smape: number;
  readonly mase: number;
}

/** One forecast of the backtest, as `backtest.json` records it. */
export interface BacktestStepRecord {
  readonly step: number;
  readonly fold: number;
  readonly cutoff: number;
  readonly trainRange: readonly [number, number];
  readonly dates: readonly string[];
  readonly actual: readonly number[];
  readonly forecast: readonly number[];
  readonly baselines: Readonly<Record<string, readonly number[]>>;
}

// A record of readonly fields, alike in shape only to core's event payloads (events/event-map.ts): unrelated data.
/** `backtest.json` of a births run. */
export interface BacktestRecord {
  readonly m: number;
  readonly horizon: number;
  readonly folds: number;
  readonly stepsPerFold: number;
  readonly report: { readonly steps: number; readonly model: Scores; readonly baselines: Readonly<Record<string, Scores>>; readonly relativeMase: Readonly<Record<string, number>> };
  readonly steps: readonly BacktestStepRecord[];
}

const W = 1080;
const H = 260;
const PAD = { left: 64, right: 16, top: 28, bottom: 36 };

function polyline(values: readonly number[], x: (i: number) => number, y: (v: number) => number): string {
  return values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
}

/** An inline SVG of one fold: actual values, the model's forecasts and the seasonal naive forecasts, day by day. */
export function foldChart(steps: readonly BacktestStepRecord[], title: string, naive: string | undefined): string {
  const actual = steps.flatMap((s) => s.actual);
  const forecast = steps.flatMap((s) => s.forecast);
  const baseline = naive ? steps.flatMap((s) => s.baselines[naive] ?? []) : [];
  const dates = steps.flatMap((s) => s.dates);
  const all = [...actual, ...forecast, ...baseline].filter(Number.isFinite);
  // Reductions, not Math.min(...all): spreading a long array into arguments overflows the stack.
  const lo = all.reduce((a, b) => Math.min(a, b), Infinity);
  const hi = all.reduce((a, b) => Math.max(a, b), -Infinity);
  const span = hi - lo || 1;
  const n = actual.length;
  const x = (i: number) => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * (W - PAD.left - PAD.right));
  const y = (v: number) => PAD.top + (1 - (v - lo) / span) * (H - PAD.top - PAD.bottom);
  const ticks = [lo, lo + span / 2, hi].map((v) => `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v)}</text>`);
  const origins = steps.slice(1).map((_, k) => {
    const at = x((k + 1) * steps[0]!.actual.length - 0.5);
    return `<line x1="${at.toFixed(1)}" x2="${at.toFixed(1)}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#ddd" stroke-dasharray="2 3"/>`;
  });
  const labels = [0, Math.floor((n - 1) / 2), n - 1].map((i, k) => `<text x="${x(i).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="${['start', 'middle', 'end'][k]}">${escapeHtml(dates[i] ?? String(i))}</text>`);
  const legend = [
    ['#222', 'actual', ''],
    ['#1f77b4', 'LSTM forecast', ''],
    ...(naive ? [['#ff7f0e', naive, '5 4']] : []),
  ]
    .map(([colour, label, dash], k) => `<g transform="translate(${PAD.left + 8 + k * 190},${PAD.top - 12})"><line x1="0" x2="22" y1="0" y2="0" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/><text x="28" y="4">${escapeHtml(label!)}</text></g>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}" font-family="sans-serif" font-size="11" fill="#555">
<rect width="${W}" height="${H}" fill="#fff"/>
${ticks.join('\n')}
${origins.join('\n')}
${labels.join('\n')}
<path class="actual" d="${polyline(actual, x, y)}" fill="none" stroke="#222" stroke-width="1.5"/>
${naive ? `<path class="baseline" d="${polyline(baseline, x, y)}" fill="none" stroke="#ff7f0e" stroke-width="1.5" stroke-dasharray="5 4"/>` : ''}
<path class="forecast" d="${polyline(forecast, x, y)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
${legend}
</svg>`;
}

/** The backtest section of a births report: MASE/sMAPE/MAE/RMSE of the model and every baseline, and a chart per fold. */
export function backtestHtml(record: BacktestRecord): string {
  const naive = Object.keys(record.report.baselines).find((k) => k.startsWith('seasonal-naive'));
  const row = (name: string, s: Scores, relative: number | undefined, model = false) =>
    `<tr${model ? ' class="model"' : ''}><th>${escapeHtml(name)}</th><td>${formatNumber(s.mase)}</td><td>${(100 * s.smape).toFixed(2)}%</td><td>${formatNumber(s.mae)}</td><td>${formatNumber(s.rmse)}</td><td>${relative === undefined ? '—' : formatNumber(relative)}</td></tr>`;
  const rows = [row('LSTM (model)', record.report.model, undefined, true), ...Object.entries(record.report.baselines).map(([name, s]) => row(name, s, record.report.relativeMase[name]))];
  const charts = Array.from({ length: record.folds }, (_, fold) => {
    const steps = record.steps.filter((s) => s.fold === fold);
    if (steps.length === 0) return '';
    const title = `Fold ${fold + 1}/${record.folds}: ${steps[0]!.dates[0]} – ${steps.at(-1)!.dates.at(-1)} (trained on days ${steps[0]!.trainRange[0]}–${steps[0]!.trainRange[1] - 1})`;
    return `<figure class="fold"><figcaption>${escapeHtml(title)}</figcaption>\n${foldChart(steps, title, naive)}\n</figure>`;
  });
  return `<p class="muted">Walk-forward backtest: ${record.report.steps} forecasts of ${record.horizon} days, ${record.folds} retrains (every ${record.stepsPerFold} forecasts), standardisation fitted on each training window only. MASE is scaled by the in-sample seasonal naive error (m = ${record.m}); the last column is the model's MASE divided by the baseline's (&lt; 1: the model wins).</p>
<table class="backtest">
<thead><tr><th>forecaster</th><th>MASE</th><th>sMAPE</th><th>MAE</th><th>RMSE</th><th>model MASE / this</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${charts.join('\n')}`;
}

/** Precision, recall and F1 of the anomaly class, with the confusion counts. */
export interface DetectionScores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
}

/** `detection.json` of a sensors run: the trained model and the plain (unweighted) baseline on the validation motes. */
export interface DetectionRecord {
  readonly split: string;
  readonly samples: number;
  readonly positives: number;
  readonly threshold: number;
  readonly loss: string;
  readonly models: Readonly<Record<string, DetectionScores>>;
}

/** The detection section of a sensors report: anomaly-class precision, recall and F1 of each model. */
export function detectionHtml(record: DetectionRecord): string {
  const rows = Object.entries(record.models).map(
    ([name, s]) =>
      `<tr><th>${escapeHtml(name)}</th><td>${formatNumber(s.precision)}</td><td>${formatNumber(s.recall)}</td><td>${formatNumber(s.f1)}</td><td>${s.truePositives}</td><td>${s.falsePositives}</td><td>${s.falseNegatives}</td></tr>`,
  );
  return `<p class="muted">${escapeHtml(record.split)}: ${record.samples} readings, ${record.positives} anomalies. A reading is flagged when the predicted probability is ≥ ${record.threshold}. Trained loss: ${escapeHtml(record.loss)}; the plain model is the same network trained with unweighted binary cross-entropy.</p>
<table class="detection">
<thead><tr><th>model</th><th>precision</th><th>recall</th><th>F1</th><th>TP</th><th>FP</th><th>FN</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}
