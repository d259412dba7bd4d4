import { formatDuration, formatMetric } from '../io/format.js';
import type { ReportData, ReportEpoch } from './report-data.js';
import type { StepSeries } from './series-buffer.js';
import { esc, FONT, renderPanelsSvg, type ChartPanel } from './svg-chart.js';
import { inputError } from '../input-error.js';

/** Options of the report renderers. */
export interface ReportRenderOptions {
  /**
   * TensorBoard's smoothing weight for the per-step line, in [0, 1). Default `'auto'`: about 2% of the points per
   * averaging window, at least 0.6 (TensorBoard's default) and at most 0.99, so long runs are not drawn as noise.
   */
  readonly smoothing?: number | 'auto';
  /** Log y axis for losses: `'auto'` (default) when positive values span more than two decades. */
  readonly logScale?: boolean | 'auto';
}

/** An extra section of the HTML report: a heading and a body of HTML. */
export interface ReportSection {
  /** The section's heading (plain text; escaped). */
  readonly title: string;
  /** The section's body, inserted as is: escape any text in it, and keep it self-contained (no scripts, no network). */
  readonly html: string;
}

/** Options of {@link renderReportHtml}. */
export interface ReportHtmlOptions extends ReportRenderOptions {
  /** Sections appended inside `<main>` after the epoch table, in order (e.g. a final evaluation, a backtest). */
  readonly sections?: readonly ReportSection[];
}

const TRAIN = '#1f77b4';
const VAL = '#ff7f0e';
const LR = '#2ca02c';

/** The epoch table shows at most this many rows (evenly spaced, the first and the last always). */
export const MAX_EPOCH_ROWS = 1000;

/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam (divided by 1 − wⁿ), so the first points are
 * not pulled towards 0. Non-finite values pass through without touching the average.
 *
 * @example
 * ```ts
 * smoothEma([4, 4, 4], 0.9); // [4, 4, 4]
 * ```
 */
export function smoothEma(values: ArrayLike<number>, weight = 0.6): number[] {
  return Array.from(smoothColumn(values, weight));
}

function smoothColumn(values: ArrayLike<number>, weight: number): Float64Array {
  if (!(weight >= 0 && weight < 1)) throw inputError(`smoothing: must be in [0, 1) such as 0.6 (0: no smoothing), got ${weight}.`);
  const out = new Float64Array(values.length);
  let last = 0;
  let debias = 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    debias *= weight; // weight ** count, without a power per point
    out[i] = last / (1 - debias);
  }
  return out;
}

/** The smoothing weight `'auto'` picks for a curve of `points` points. */
export function autoSmoothing(points: number): number {
  return Math.min(0.99, Math.max(0.6, Number((1 - 50 / Math.max(points, 1)).toFixed(2))));
}

const maximised = (name: string) => /acc|auc|f1|precision|recall/i.test(name);

/** Log axis: positive values spanning more than two decades (never for accuracy-like names), or as the option says. */
function wantsLog(columns: readonly ArrayLike<number>[], option: boolean | 'auto', name: string): boolean {
  if (option !== 'auto') return option;
  if (maximised(name)) return false;
  let lo = Infinity;
  let hi = -Infinity;
  let count = 0;
  for (const values of columns) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      if (v <= 0) return false;
      count += 1;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return count >= 2 && hi / lo > 100;
}

const EMPTY: StepSeries = { steps: new Float64Array(0), values: new Float64Array(0) };

/** Per-epoch points of one log (NaN where the epoch has no value, when `gaps`; else only epochs that have one). */
function epochColumn(epochs: readonly ReportEpoch[], key: string, gaps: boolean): { x: Float64Array; y: Float64Array } {
  const rows = gaps ? epochs : epochs.filter((e) => e.logs[key] !== undefined);
  return { x: Float64Array.from(rows, (e) => e.epoch), y: Float64Array.from(rows, (e) => e.logs[key] ?? Number.NaN) };
}

/** The panels of a report: per metric a per-step chart (raw points + smoothed line) and a per-epoch chart (train vs validation), then the learning rate. */
export function reportPanels(data: ReportData, options: ReportRenderOptions = {}): ChartPanel[] {
  const setting = options.smoothing ?? 'auto';
  const logScale = options.logScale ?? 'auto';
  const boundaries = data.epochs.map((e) => e.step);
  const panels: ChartPanel[] = [];
  for (const name of data.names) {
    const raw = data.stepValues[name] ?? EMPTY;
    const smoothing = setting === 'auto' ? autoSmoothing(raw.values.length) : setting;
    const train = epochColumn(data.epochs, name, true);
    const val = epochColumn(data.epochs, `val_${name}`, false);
    const logY = wantsLog([raw.values, train.y, val.y], logScale, name);
    panels.push({
      title: `${name} per step${logY ? ' (log scale)' : ''}`,
      xLabel: 'step',
      logY,
      rules: boundaries,
      series: [
        { label: `${name} (batch)`, color: TRAIN, x: raw.steps, y: raw.values, kind: 'scatter', opacity: 0.28 },
        { label: `smoothed (${smoothing})`, color: TRAIN, x: raw.steps, y: smoothColumn(raw.values, smoothing), kind: 'line', width: 2 },
      ],
    });
    panels.push({
      title: `${name} per epoch${logY ? ' (log scale)' : ''}`,
      xLabel: 'epoch',
      logY,
      integerX: true,
      series: [
        { label: 'train', color: TRAIN, ...train, kind: 'line+markers' },
        ...(val.x.length > 0 ? [{ label: 'validation', color: VAL, ...val, kind: 'line+markers' as const }] : []),
      ],
    });
  }
  // Linear: schedules (warm-up, cosine, one-cycle) read best that way, and decays to 0 would dominate a log axis.
  const lr = data.learningRate;
  panels.push({ title: 'learning rate per step', xLabel: 'step', rules: boundaries, series: [{ label: 'learning rate', color: LR, x: lr.steps, y: lr.values, kind: 'line' }] });
  return panels;
}

/** The report's charts as one SVG (two columns: per step, per epoch; the learning rate across the bottom). */
export function renderReportSvg(data: ReportData, options: ReportRenderOptions & { readonly heading?: boolean } = {}): string {
  return renderPanelsSvg(reportPanels(data, options), { className: 'training-report', ...(options.heading === false ? {} : { title: data.title }) });
}

function summaryRows(data: ReportData): string {
  const best = (name: string) => {
    let pick: ReportEpoch | undefined;
    for (const e of data.epochs) {
      const v = e.logs[name];
      if (v === undefined || !Number.isFinite(v)) continue;
      if (pick === undefined || (maximised(name) ? v > pick.logs[name]! : v < pick.logs[name]!)) pick = e;
    }
    return pick === undefined ? '—' : `${formatMetric(pick.logs[name]!)} <span class="muted">(epoch ${pick.epoch})</span>`;
  };
  const last = data.epochs[data.epochs.length - 1];
  return data.names
    .map((n) => {
      const fin = (v: number | undefined) => (v === undefined ? '—' : formatMetric(v));
      return `<tr><th>${esc(n)}</th><td>${fin(last?.logs[n])}</td><td>${best(n)}</td><td>${fin(last?.logs[`val_${n}`])}</td><td>${best(`val_${n}`)}</td></tr>`;
    })
    .join('\n');
}

/** The epochs the table shows: all of them up to {@link MAX_EPOCH_ROWS}, else evenly spaced ones, first and last included. */
function tableEpochs(epochs: readonly ReportEpoch[]): readonly ReportEpoch[] {
  if (epochs.length <= MAX_EPOCH_ROWS) return epochs;
  const every = (epochs.length - 1) / (MAX_EPOCH_ROWS - 1);
  return Array.from({ length: MAX_EPOCH_ROWS }, (_, i) => epochs[Math.round(i * every)]!);
}

function sectionHtml(section: ReportSection): string {
  if (typeof section?.title !== 'string' || typeof section.html !== 'string') throw inputError('renderReportHtml: every entry of options.sections needs a title and html (strings).');
  return `<section class="extra">\n<h2>${esc(section.title)}</h2>\n${section.html}\n</section>\n`;
}

/**
 * A self-contained HTML report (inline SVG and CSS, no scripts, no network): summary, best values, charts, epoch table
 * (at most {@link MAX_EPOCH_ROWS} rows), then any extra `sections`. Its size is bounded whatever the run's length.
 *
 * @example
 * ```ts
 * const html = renderReportHtml(reportDataFromEvents(events, 'mnist'), { sections: [{ title: 'Notes', html: '<p>Shifted digits.</p>' }] });
 * ```
 */
export function renderReportHtml(data: ReportData, options: ReportHtmlOptions = {}): string {
  const sections = (options.sections ?? []).map(sectionHtml).join('');
  // The page has its own heading; the SVG file keeps one so it stands alone.
  const svg = renderReportSvg(data, { ...options, heading: false });
  const duration = data.startedAt !== undefined && data.endedAt !== undefined ? formatDuration(data.endedAt - data.startedAt) : '—';
  const lrSteps = data.learningRate.steps;
  const lastStep = data.epochs[data.epochs.length - 1]?.step ?? lrSteps[lrSteps.length - 1] ?? 0;
  const outcome = data.endReason === undefined ? 'running' : data.endReason === 'stopped' ? `stopped: ${data.stopReason ?? 'stop requested'}` : data.endReason;
  const cols = data.names.flatMap((n) => [n, `val_${n}`]).filter((k) => data.epochs.some((e) => e.logs[k] !== undefined));
  const shown = tableEpochs(data.epochs);
  const epochRows = shown
    .map((e) => `<tr><td>${e.epoch}</td>${cols.map((k) => `<td>${e.logs[k] === undefined ? '' : formatMetric(e.logs[k])}</td>`).join('')}<td>${formatMetric(e.learningRate)}</td><td>${e.step}</td><td>${formatDuration(e.durationMs)}</td></tr>`)
    .join('\n');
  const tableNote = shown.length < data.epochs.length ? `<p class="muted">${shown.length} of ${data.epochs.length} epochs, evenly spaced; every epoch is in the event log.</p>\n` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="@fitstream/callbacks trainingReport">
<title>${esc(data.title)}</title>
<style>
  body { margin: 0; padding: 24px; background: #f7f7f8; color: #222; font-family: ${FONT}; font-size: 14px; }
  main { max-width: 1140px; margin: 0 auto; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  .meta { color: #555; margin: 0 0 16px; }
  .meta b { color: #222; font-weight: 600; }
  table { border-collapse: collapse; background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; }
  th, td { padding: 5px 12px; text-align: right; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  thead th { background: #fafafa; font-weight: 600; }
  .muted { color: #888; font-size: 12px; }
  figure { margin: 16px 0; overflow-x: auto; }
  figure svg { display: block; max-width: 100%; height: auto; }
  details summary { cursor: pointer; margin: 8px 0; }
</style>
</head>
<body>
<main>
<h1>${esc(data.title)}</h1>
<p class="meta"><b>${data.epochs.length}</b> epochs · <b>${lastStep}</b> steps · ${esc(duration)} · ${esc(outcome)}${data.resumedFrom ? ` · resumed from <code>${esc(data.resumedFrom)}</code>` : ''}</p>
<table class="summary">
<thead><tr><th>metric</th><th>final train</th><th>best train</th><th>final validation</th><th>best validation</th></tr></thead>
<tbody>
${summaryRows(data)}
</tbody>
</table>
<figure>
${svg}
</figure>
<details>
<summary>Epoch logs</summary>
${tableNote}<table class="epochs">
<thead><tr><th>epoch</th>${cols.map((k) => `<th>${esc(k)}</th>`).join('')}<th>learning rate</th><th>step</th><th>time</th></tr></thead>
<tbody>
${epochRows}
</tbody>
</table>
</details>
${sections}</main>
</body>
</html>
`;
}
