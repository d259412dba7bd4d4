import { mkdir } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { isMetricsRead, writeFileAtomic, type Plugin, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import { formatDuration, formatMetric } from '../io/format.js';
import { esc, FONT, renderPanel, type ChartPanel } from './svg-chart.js';

/** What a training report is drawn from; collect it live with {@link trainingReport} or from a log with {@link reportDataFromEvents}. */
export interface ReportData {
  readonly title: string;
  /** The loss and metric names (without `val_`). */
  readonly names: readonly string[];
  /** Batch values of the steps whose metrics were read. */
  readonly steps: readonly { readonly step: number; readonly epoch: number; readonly values: Readonly<Record<string, number>> }[];
  /** Learning rate of every step. */
  readonly learningRates: readonly (readonly [step: number, lr: number])[];
  readonly epochs: readonly {
    readonly epoch: number;
    readonly step: number;
    readonly learningRate: number;
    readonly durationMs: number;
    readonly logs: Readonly<Record<string, number | undefined>>;
  }[];
  readonly startedAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: string | undefined;
  readonly stopReason: string | undefined;
  readonly resumedFrom: string | undefined;
}

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

const TRAIN = '#1f77b4';
const VAL = '#ff7f0e';
const LR = '#2ca02c';

/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam (divided by 1 − wⁿ), so the first points are
 * not pulled towards 0. Non-finite values pass through without touching the average.
 */
export function smoothEma(values: readonly number[], weight = 0.6): number[] {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`smoothing must be in [0, 1), got ${weight}.`);
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    count += 1;
    return last / (1 - weight ** count);
  });
}

/** Gathers report data from events (a live run or `replay(file)`, collected into an array). */
export function reportDataFromEvents(events: Iterable<TrainerEvent>, title = 'Training report'): ReportData {
  const c = new ReportCollector(title);
  for (const e of events) c.add(e);
  return c.data();
}

/** Accumulates report data event by event. */
export class ReportCollector {
  private names: string[] = [];
  private readonly steps: { step: number; epoch: number; values: Record<string, number> }[] = [];
  private readonly learningRates: [number, number][] = [];
  private readonly epochs: { epoch: number; step: number; learningRate: number; durationMs: number; logs: Record<string, number | undefined> }[] = [];
  private startedAt: number | undefined;
  private endedAt: number | undefined;
  private endReason: string | undefined;
  private stopReason: string | undefined;
  private resumedFrom: string | undefined;

  constructor(
    private readonly title: string,
    names: readonly string[] = [],
    private readonly readEvery = 0,
  ) {
    this.names = [...names];
  }

  add(event: TrainerEvent): void {
    switch (event.type) {
      case 'fit:start':
        this.startedAt ??= event.time;
        this.resumedFrom ??= event.resumedFrom;
        break;
      case 'step:end': {
        this.learningRates.push([event.step, event.learningRate]);
        let values: Record<string, number> | undefined;
        let lazy = true;
        try {
          isMetricsRead(event.metrics);
        } catch {
          lazy = false; // replayed events carry plain records (or nothing, when the metrics were not recorded)
        }
        if (!lazy) values = { ...event.metrics };
        // Already read by someone (free), or due for our own read (one device read per `readEvery` steps).
        else if ((this.readEvery > 0 && event.step % this.readEvery === 0) || isMetricsRead(event.metrics)) values = { ...event.metrics };
        if (values && Object.keys(values).length === 0) values = undefined;
        if (values) {
          if (this.names.length === 0) this.names = Object.keys(values);
          this.steps.push({ step: event.step, epoch: event.epoch, values });
        }
        break;
      }
      case 'epoch:end': {
        const logs = { ...(event.metrics as unknown as Record<string, number | undefined>) };
        if (this.names.length === 0) this.names = Object.keys(logs).filter((k) => !k.startsWith('val_'));
        this.epochs.push({ epoch: event.epoch, step: event.step, learningRate: event.learningRate, durationMs: event.durationMs, logs });
        break;
      }
      case 'fit:end':
        this.endedAt = event.time;
        this.endReason = event.reason;
        this.stopReason = event.stopReason;
        break;
      default:
        break;
    }
  }

  data(): ReportData {
    return {
      title: this.title,
      names: [...this.names],
      steps: [...this.steps],
      learningRates: [...this.learningRates],
      epochs: [...this.epochs],
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      endReason: this.endReason,
      stopReason: this.stopReason,
      resumedFrom: this.resumedFrom,
    };
  }
}

const maximised = (name: string) => /acc|auc|f1|precision|recall/i.test(name);

function wantsLog(values: readonly number[], option: boolean | 'auto', name: string): boolean {
  if (option !== 'auto') return option;
  if (maximised(name)) return false;
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length < 2 || finite.some((v) => v <= 0)) return false;
  return Math.max(...finite) / Math.min(...finite) > 100;
}

/** The panels of a report: per metric a per-step chart (raw scatter + smoothed line) and a per-epoch chart (train vs validation), then the learning rate. */
export function autoSmoothing(points: number): number {
  return Math.min(0.99, Math.max(0.6, Number((1 - 50 / Math.max(points, 1)).toFixed(2))));
}

export function reportPanels(data: ReportData, options: ReportRenderOptions = {}): ChartPanel[] {
  const setting = options.smoothing ?? 'auto';
  const logScale = options.logScale ?? 'auto';
  const boundaries = data.epochs.map((e) => e.step);
  const panels: ChartPanel[] = [];
  for (const name of data.names) {
    const raw = data.steps.filter((s) => s.values[name] !== undefined).map((s) => [s.step, s.values[name]!] as const);
    const smoothing = setting === 'auto' ? autoSmoothing(raw.length) : setting;
    const smooth = smoothEma(raw.map((p) => p[1]), smoothing);
    const train = data.epochs.map((e) => [e.epoch, e.logs[name] ?? Number.NaN] as const);
    const val = data.epochs.filter((e) => e.logs[`val_${name}`] !== undefined).map((e) => [e.epoch, e.logs[`val_${name}`]!] as const);
    const logY = wantsLog([...raw.map((p) => p[1]), ...train.map((p) => p[1]), ...val.map((p) => p[1])], logScale, name);
    panels.push({
      title: `${name} per step${logY ? ' (log scale)' : ''}`,
      xLabel: 'step',
      logY,
      rules: boundaries,
      series: [
        { label: `${name} (batch)`, color: TRAIN, points: raw, kind: 'scatter', opacity: 0.28 },
        { label: `smoothed (${smoothing})`, color: TRAIN, points: raw.map((p, i) => [p[0], smooth[i]!] as const), kind: 'line', width: 2 },
      ],
    });
    panels.push({
      title: `${name} per epoch${logY ? ' (log scale)' : ''}`,
      xLabel: 'epoch',
      logY,
      integerX: true,
      series: [
        { label: 'train', color: TRAIN, points: train, kind: 'line+markers' },
        ...(val.length > 0 ? [{ label: 'validation', color: VAL, points: val, kind: 'line+markers' as const }] : []),
      ],
    });
  }
  const lrs = data.learningRates;
  // Linear: schedules (warm-up, cosine, one-cycle) read best that way, and decays to 0 would dominate a log axis.
  panels.push({ title: 'learning rate per step', xLabel: 'step', rules: boundaries, series: [{ label: 'learning rate', color: LR, points: lrs, kind: 'line' }] });
  return panels;
}

const PANEL_W = 540;
const PANEL_H = 300;
const GAP = 16;

/** The report's charts as one SVG (two columns: per step, per epoch; the learning rate across the bottom). */
export function renderReportSvg(data: ReportData, options: ReportRenderOptions & { readonly heading?: boolean } = {}): string {
  const panels = reportPanels(data, options);
  const width = 2 * PANEL_W + 3 * GAP;
  const rows = Math.ceil((panels.length - 1) / 2) + 1;
  const top = options.heading === false ? GAP : 44;
  const height = top + rows * (PANEL_H + GAP);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="training-report" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}">`,
    `<rect width="${width}" height="${height}" fill="#f7f7f8"/>`,
    ...(options.heading === false ? [] : [`<text x="${GAP}" y="28" font-size="17" font-weight="600" fill="#111">${esc(data.title)}</text>`]),
  ];
  panels.forEach((p, i) => {
    const last = i === panels.length - 1;
    const row = last ? rows - 1 : Math.floor(i / 2);
    const col = last ? 0 : i % 2;
    out.push(renderPanel(p, GAP + col * (PANEL_W + GAP), top + row * (PANEL_H + GAP), last ? 2 * PANEL_W + GAP : PANEL_W, PANEL_H));
  });
  out.push('</svg>');
  return out.join('\n');
}

function summaryRows(data: ReportData): string {
  const best = (name: string) => {
    const vals = data.epochs.map((e) => [e.epoch, e.logs[name]] as const).filter((p): p is readonly [number, number] => p[1] !== undefined && Number.isFinite(p[1]));
    if (vals.length === 0) return '—';
    const pick = vals.reduce((a, b) => ((maximised(name) ? b[1] > a[1] : b[1] < a[1]) ? b : a));
    return `${formatMetric(pick[1])} <span class="muted">(epoch ${pick[0]})</span>`;
  };
  const last = data.epochs[data.epochs.length - 1];
  return data.names
    .map((n) => {
      const fin = (v: number | undefined) => (v === undefined ? '—' : formatMetric(v));
      return `<tr><th>${esc(n)}</th><td>${fin(last?.logs[n])}</td><td>${best(n)}</td><td>${fin(last?.logs[`val_${n}`])}</td><td>${best(`val_${n}`)}</td></tr>`;
    })
    .join('\n');
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

function sectionHtml(section: ReportSection): string {
  if (typeof section?.title !== 'string' || typeof section.html !== 'string') throw new TypeError('renderReportHtml: every entry of options.sections needs a title and html (strings).');
  return `<section class="extra">\n<h2>${esc(section.title)}</h2>\n${section.html}\n</section>\n`;
}

/**
 * A self-contained HTML report (inline SVG and CSS, no scripts, no network): summary, best values, charts, epoch table,
 * then any extra `sections`.
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
  const lastStep = data.epochs[data.epochs.length - 1]?.step ?? data.learningRates[data.learningRates.length - 1]?.[0] ?? 0;
  const outcome = data.endReason === undefined ? 'running' : data.endReason === 'stopped' ? `stopped: ${data.stopReason ?? 'stop requested'}` : data.endReason;
  const cols = data.names.flatMap((n) => [n, `val_${n}`]).filter((k) => data.epochs.some((e) => e.logs[k] !== undefined));
  const epochRows = data.epochs
    .map((e) => `<tr><td>${e.epoch}</td>${cols.map((k) => `<td>${e.logs[k] === undefined ? '' : formatMetric(e.logs[k])}</td>`).join('')}<td>${formatMetric(e.learningRate)}</td><td>${e.step}</td><td>${formatDuration(e.durationMs)}</td></tr>`)
    .join('\n');
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
<table class="epochs">
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

/**
 * Renders an SVG to PNG with `@resvg/resvg-js` (an optional peer dependency: prebuilt binaries from the npm registry, no
 * install script). Rejects with an install hint when it is missing.
 */
export async function renderPng(svg: string, options: { scale?: number } = {}): Promise<Uint8Array> {
  let mod: { Resvg: new (svg: string, opts?: object) => { render(): { asPng(): Uint8Array } } };
  try {
    mod = (await import('@resvg/resvg-js')) as unknown as typeof mod;
  } catch {
    throw new Error('trainingReport: PNG output needs the optional peer dependency @resvg/resvg-js (npm install @resvg/resvg-js); the HTML and SVG reports need nothing.');
  }
  const resvg = new mod.Resvg(svg, { fitTo: { mode: 'zoom', value: options.scale ?? 1.5 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: '#f7f7f8' });
  return resvg.render().asPng();
}

/** Options of {@link trainingReport}. */
export interface TrainingReportOptions extends ReportRenderOptions {
  /** Directory for `report.html`, `report.svg` (and `report.png`). */
  readonly dir: string;
  readonly title?: string;
  /**
   * Read the batch metrics of every n-th step for the per-step charts (default 1: one device read per step — cheap on
   * cpu/wasm; raise it on GPUs). Steps whose metrics another subscriber read are included for free.
   */
  readonly stepEvery?: number;
  /** Also write a PNG: `true` (fails without @resvg/resvg-js), `'auto'` (default: when installed), `false`. */
  readonly png?: boolean | 'auto';
  /** Rewrite the report after every epoch (default `true`; watch it in a browser) or only when the fit ends. */
  readonly everyEpoch?: boolean;
}

/** The plugin {@link trainingReport} returns. */
export interface TrainingReport<M extends string = string> extends Plugin<M> {
  readonly dir: string;
  /** The data collected by the last fit. */
  readonly data: ReportData | undefined;
  /** Files written by the last write. */
  readonly files: readonly string[];
}

/**
 * A training-curve report: a self-contained HTML file (opens offline), an SVG and, with `@resvg/resvg-js` installed, a
 * PNG, with loss and metrics per step (raw points as a light scatter, a TensorBoard-style debiased EMA line) and per
 * epoch (train vs validation), and the learning rate. Written atomically after every epoch and when the fit ends.
 *
 * @example
 * ```ts
 * trainer.use(trainingReport({ dir: 'runs/mnist', title: 'MNIST MLP', stepEvery: 5 }));
 * ```
 */
export function trainingReport<M extends string = string>(options: TrainingReportOptions): TrainingReport<M> {
  if (!options || typeof options.dir !== 'string' || options.dir.length === 0) throw new TypeError('trainingReport: options.dir is required.');
  const dir = resolvePath(options.dir);
  const stepEvery = options.stepEvery ?? 1;
  if (!Number.isInteger(stepEvery) || stepEvery < 0) throw new RangeError(`trainingReport: stepEvery must be an integer ≥ 0, got ${String(stepEvery)}.`);
  if (options.smoothing !== undefined && options.smoothing !== 'auto') smoothEma([], options.smoothing); // validates the weight now
  const png = options.png ?? 'auto';
  let data: ReportData | undefined;
  let files: string[] = [];

  const write = async (d: ReportData) => {
    await mkdir(dir, { recursive: true });
    const svg = renderReportSvg(d, options);
    const written = [join(dir, 'report.html'), join(dir, 'report.svg')];
    await writeFileAtomic(written[0]!, renderReportHtml(d, options));
    await writeFileAtomic(written[1]!, svg);
    if (png !== false) {
      try {
        const bytes = await renderPng(svg);
        await writeFileAtomic(join(dir, 'report.png'), bytes);
        written.push(join(dir, 'report.png'));
      } catch (error) {
        if (png === true) throw error;
      }
    }
    files = written;
  };

  return {
    name: 'training-report',
    dir,
    get data() {
      return data;
    },
    get files() {
      return files;
    },
    attach: (events$, control: TrainerControl<M>) => {
      const collector = new ReportCollector(options.title ?? 'Training report', [...control.metricNames], stepEvery);
      let chain: Promise<void> = Promise.resolve();
      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        collector.add(e);
        if ((e.type === 'epoch:end' && options.everyEpoch !== false) || e.type === 'fit:end') {
          data = collector.data();
          const snapshot = data;
          chain = chain.then(() => write(snapshot));
          control.await(chain);
        }
      });
    },
  };
}

