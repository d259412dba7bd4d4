// The sweep report's two charts as inline SVG: a parallel-coordinates plot (hyper-parameters → objective) and the
// objective per epoch of every trial. Hand-written in the training report's style (its frame, fonts, colours, the
// `svg.training-report g.panel` structure with `g.marks`, `g.x-axis`, `g.y-axis` and `text.x-label`, so the same
// browser check reads both): @fitstream/callbacks draws its panels with `renderPanelsSvg` and ticks with `niceTicks` /
// `logTicks`, which its index does not export; exporting them (and `ChartPanel`) would let this file shrink to the
// parallel-coordinates plot alone.
import { formatMetric } from '@fitstream/callbacks';
import { isLogScale, type Param, type ParamValue } from './space.js';

/** One trial as the charts draw it. */
export interface ChartTrial {
  readonly name: string;
  readonly status: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The trial's best objective value (undefined: none logged). */
  readonly best: number | undefined;
  /** The objective after each epoch (epochs numbered from 0, as in the training report). */
  readonly curve: readonly { readonly epoch: number; readonly value: number }[];
}

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, 'DejaVu Sans', sans-serif";
const WIDTH = 1128;
const BEST = '#ff7f0e';
const PRUNED = '#9a9a9a';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));
const label = (v: number): string => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1).replace(/\.0e/, 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
};
const valueLabel = (v: ParamValue): string => (typeof v === 'number' ? label(v) : String(v));

/** Nice linear ticks (1, 2, 5 × 10ⁿ) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!(hi > lo)) return lo === hi && Number.isFinite(lo) ? [lo - (integer ? 1 : Math.abs(lo) * 0.1 || 1), lo, lo + (integer ? 1 : Math.abs(lo) * 0.1 || 1)] : [0, 1];
  const raw = (hi - lo) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  let step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let i = Math.floor(lo / step); i <= Math.ceil(hi / step); i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Decade ticks (with 2· and 5· over at most two decades) covering [lo, hi], lo > 0. */
export function decadeTicks(lo: number, hi: number): number[] {
  const e0 = Math.floor(Math.log10(lo));
  const e1 = Math.ceil(Math.log10(hi));
  const multiples = e1 - e0 <= 2 ? [1, 2, 5] : [1];
  const all: number[] = [];
  for (let e = e0; e <= e1; e++) for (const m of multiples) all.push(Number((m * 10 ** e).toPrecision(12)));
  const below = all.filter((t) => t <= lo).pop() ?? lo;
  const above = all.find((t) => t >= hi) ?? hi;
  const ticks = all.filter((t) => t >= below && t <= above);
  return ticks.length >= 2 ? ticks : [below, above > below ? above : below * 10];
}

/** A vertical scale: value → y pixel, with its ticks. */
interface Axis {
  readonly y: (v: ParamValue) => number | undefined;
  readonly ticks: readonly { readonly at: number; readonly text: string }[];
}

function numericAxis(lo: number, hi: number, log: boolean, top: number, bottom: number, integer = false): Axis {
  const ticks = log ? decadeTicks(lo, hi) : linearTicks(lo, hi, 5, integer);
  const [t0, t1] = [ticks[0]!, ticks[ticks.length - 1]!];
  const f = log ? (v: number) => Math.log10(v) : (v: number) => v;
  const span = f(t1) - f(t0) || 1;
  const y = (v: ParamValue) => (typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? bottom - ((f(v) - f(t0)) / span) * (bottom - top) : undefined);
  return { y, ticks: ticks.map((t) => ({ at: y(t)!, text: label(t) })) };
}

function choiceAxis(values: readonly ParamValue[], top: number, bottom: number): Axis {
  const step = values.length === 1 ? 0 : (bottom - top) / (values.length - 1);
  const at = (i: number) => (values.length === 1 ? (top + bottom) / 2 : bottom - i * step);
  const keys = values.map((v) => JSON.stringify(v));
  return {
    y: (v) => {
      const i = keys.indexOf(JSON.stringify(v));
      return i < 0 ? undefined : at(i);
    },
    ticks: values.map((v, i) => ({ at: at(i), text: valueLabel(v) })),
  };
}

function paramAxis(p: Param, top: number, bottom: number): Axis {
  if (p.kind === 'choice') return choiceAxis(p.values, top, bottom);
  return numericAxis(p.low, p.high, isLogScale(p), top, bottom, p.kind === 'int');
}

/** Whether values read best on a log axis: positive and spanning more than two decades (the training report's rule). */
function wantsLog(values: readonly number[]): boolean {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2 || finite.some((v) => v <= 0)) return false;
  const lo = finite.reduce((a, b) => Math.min(a, b), Infinity);
  const hi = finite.reduce((a, b) => Math.max(a, b), -Infinity);
  return hi / lo > 100;
}

const extent = (values: readonly number[]): [number, number] => [values.reduce((a, b) => Math.min(a, b), Infinity), values.reduce((a, b) => Math.max(a, b), -Infinity)];

/** Completed trials from the best (dark blue) to the worst (light); the best itself is drawn in orange. */
function rankColour(rank: number, count: number): string {
  const t = count <= 1 ? 0 : rank / (count - 1);
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(31, 174)},${mix(119, 199)},${mix(180, 232)})`;
}

function frame(title: string, width: number, height: number, className: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="training-report ${className}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}" role="img" aria-label="${esc(title)}">`,
    `<rect width="${width}" height="${height}" fill="#f7f7f8"/>`,
    `<g class="panel" transform="translate(16,16)">`,
    `<rect class="frame" x="0" y="0" width="${width - 32}" height="${height - 32}" fill="#ffffff" stroke="#e3e3e3" rx="6"/>`,
    `<text class="title" x="58" y="20" font-size="13" font-weight="600" fill="#222">${esc(title)}</text>`,
  ];
}

interface Styled {
  readonly trial: ChartTrial;
  readonly colour: string;
  readonly width: number;
  readonly dash: string;
  readonly order: number;
}

/** Colours and strokes: completed by rank, pruned dashed grey, the best orange and on top. */
function styles(trials: readonly ChartTrial[], best: string | undefined, direction: 'min' | 'max'): Styled[] {
  const ranked = trials
    .filter((t) => t.best !== undefined && Number.isFinite(t.best))
    .sort((a, b) => (direction === 'min' ? a.best! - b.best! : b.best! - a.best!));
  const completed = ranked.filter((t) => t.status === 'completed');
  return ranked
    .map((trial) => {
      if (trial.name === best) return { trial, colour: BEST, width: 3, dash: '', order: 3 };
      if (trial.status === 'completed') return { trial, colour: rankColour(completed.indexOf(trial), completed.length), width: 1.6, dash: '', order: 2 };
      return { trial, colour: PRUNED, width: 1.2, dash: '5 4', order: 1 };
    })
    .sort((a, b) => a.order - b.order);
}

function legend(x: number, items: readonly { readonly text: string; readonly colour: string; readonly dash: string }[]): string {
  let lx = x;
  const out = ['<g class="legend" font-size="11" fill="#333">'];
  for (const item of items) {
    out.push(`<g class="legend-item"><line x1="${n(lx)}" x2="${n(lx + 18)}" y1="16" y2="16" stroke="${item.colour}" stroke-width="2.5"${item.dash ? ` stroke-dasharray="${item.dash}"` : ''}/><text x="${n(lx + 22)}" y="20">${esc(item.text)}</text></g>`);
    lx += 32 + item.text.length * 6.4;
  }
  out.push('</g>');
  return out.join('');
}

/** The legend both charts carry: the best trial (named), completed ones, pruned ones (dashed). */
function statusLegend(best: string | undefined): string {
  return legend(WIDTH - 32 - 420, [
    { text: `best${best ? ` (${best})` : ''}`, colour: BEST, dash: '' },
    { text: 'completed', colour: rankColour(0, 2), dash: '' },
    { text: 'pruned', colour: PRUNED, dash: '5 4' },
  ]);
}

/**
 * Parallel coordinates: one vertical axis per searched parameter (log axes for log ranges, categories for choices)
 * and one for the objective, one line per trial through its values — the best trial orange, completed trials from
 * dark (better) to light, pruned ones dashed grey.
 *
 * @example
 * ```ts
 * const svg = parallelCoordinatesSvg(params, trials, { metric: 'val_loss', direction: 'min', best: 'trial-0003' });
 * ```
 */
export function parallelCoordinatesSvg(params: readonly Param[], trials: readonly ChartTrial[], objective: { readonly metric: string; readonly direction: 'min' | 'max'; readonly best: string | undefined }): string {
  const height = 420;
  const [top, bottom] = [56, height - 32 - 48];
  const left = 80;
  const right = WIDTH - 32 - 60;
  const columns = params.length + 1;
  const xAt = (i: number) => left + (columns === 1 ? 0 : (i * (right - left)) / (columns - 1));
  const drawn = styles(trials, objective.best, objective.direction);
  const values = drawn.map((s) => s.trial.best!);
  const logObjective = wantsLog(values);
  const [lo, hi] = values.length > 0 ? extent(values) : [0, 1];
  const axes: Axis[] = [...params.map((p) => paramAxis(p, top, bottom)), numericAxis(lo, hi, logObjective, top, bottom)];
  const names = [...params.map((p) => `${p.key}${isLogScale(p) ? ' (log)' : ''}`), `${objective.metric} (${objective.direction}${logObjective ? ', log' : ''})`];
  const title = `Hyper-parameters → best ${objective.metric} (${drawn.length} trial${drawn.length === 1 ? '' : 's'} with a value)`;
  const out = frame(title, WIDTH, height, 'sweep-parallel-coordinates');
  out.push('<g class="grid" stroke="#999" stroke-width="1">');
  for (let i = 0; i < columns; i++) out.push(`<line class="pc-axis" x1="${n(xAt(i))}" x2="${n(xAt(i))}" y1="${top}" y2="${bottom}"/>`);
  out.push('</g>');
  out.push('<g class="marks">');
  for (const s of drawn) {
    const points = [...params.map((p) => s.trial.params[p.key]!), s.trial.best!].map((v, i) => [xAt(i), axes[i]!.y(v)] as const);
    if (points.some(([, y]) => y === undefined)) continue;
    const d = points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n(x)},${n(y!)}`).join('');
    const tip = `${s.trial.name} (${s.trial.status}): ${params.map((p) => `${p.key}=${valueLabel(s.trial.params[p.key]!)}`).join(', ')} → ${objective.metric} ${formatMetric(s.trial.best!)}`;
    out.push(`<path class="trial ${esc(s.trial.status)}" data-trial="${esc(s.trial.name)}" d="${d}" fill="none" stroke="${s.colour}" stroke-width="${s.width}" stroke-opacity="0.9" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(tip)}</title></path>`);
  }
  out.push('</g>');
  out.push('<g class="axis y-axis" font-size="11" fill="#555" text-anchor="end">');
  axes.forEach((axis, i) => {
    for (const t of axis.ticks) out.push(`<text x="${n(xAt(i) - 6)}" y="${n(t.at + 4)}">${esc(t.text)}</text>`);
  });
  out.push('</g>');
  out.push('<g class="axis x-axis" font-size="12" fill="#222" text-anchor="middle" font-weight="600">');
  names.forEach((name, i) => out.push(`<text x="${n(xAt(i))}" y="${bottom + 22}">${esc(name)}</text>`));
  out.push(`<text class="x-label" x="${(left + right) / 2}" y="${height - 32 - 8}" font-weight="400" fill="#777">hyper-parameter (axes left to right), objective last</text>`);
  out.push('</g>');
  out.push(statusLegend(objective.best));
  out.push('</g></svg>');
  return out.join('\n');
}

/**
 * The objective after every epoch of every trial: where pruning stopped trials (dashed), and how the best one
 * (orange) got there. A log y axis when the values are positive and span more than two decades.
 *
 * @example
 * ```ts
 * const svg = objectiveCurvesSvg(trials, { metric: 'val_loss', direction: 'min', best: 'trial-0003' });
 * ```
 */
export function objectiveCurvesSvg(trials: readonly ChartTrial[], objective: { readonly metric: string; readonly direction: 'min' | 'max'; readonly best: string | undefined }): string {
  const height = 380;
  const margin = { left: 58, right: 14, top: 30, bottom: 40 };
  const pw = WIDTH - 32 - margin.left - margin.right;
  const ph = height - 32 - margin.top - margin.bottom;
  const drawn = styles(trials, objective.best, objective.direction).filter((s) => s.trial.curve.length > 0);
  const points = drawn.flatMap((s) => s.trial.curve);
  const ys = points.map((p) => p.value).filter(Number.isFinite);
  const logY = wantsLog(ys);
  const [x0, x1] = points.length > 0 ? extent(points.map((p) => p.epoch)) : [0, 1];
  const xTicks = linearTicks(x0, Math.max(x1, x0 + 1), 8, true).filter((t) => t >= 0);
  const [xa, xb] = [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const fx = (v: number) => margin.left + ((v - xa) / (xb - xa || 1)) * pw;
  const [lo, hi] = ys.length > 0 ? extent(ys) : [0, 1];
  const yAxis = numericAxis(lo, hi, logY, margin.top, margin.top + ph);
  const title = `${objective.metric} per epoch${logY ? ' (log scale)' : ''}: ${drawn.length} trials`;
  const out = frame(title, WIDTH, height, 'sweep-objective-curves');
  out.push('<g class="grid" stroke="#eeeeee" stroke-width="1">');
  for (const t of yAxis.ticks) out.push(`<line x1="${margin.left}" x2="${margin.left + pw}" y1="${n(t.at)}" y2="${n(t.at)}"/>`);
  out.push('</g>');
  out.push('<g class="axis y-axis" font-size="11" fill="#555" text-anchor="end">');
  for (const t of yAxis.ticks) out.push(`<text x="${margin.left - 6}" y="${n(t.at + 4)}">${esc(t.text)}</text>`);
  out.push('</g>');
  out.push('<g class="axis x-axis" font-size="11" fill="#555" text-anchor="middle">');
  for (const t of xTicks) out.push(`<text x="${n(fx(t))}" y="${margin.top + ph + 16}">${t}</text>`);
  out.push(`<text class="x-label" x="${margin.left + pw / 2}" y="${height - 32 - 6}" fill="#777">epoch</text>`);
  out.push('</g>');
  out.push(`<text class="y-label" transform="translate(14,${margin.top + ph / 2}) rotate(-90)" font-size="11" fill="#777" text-anchor="middle">${esc(objective.metric)}</text>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left + pw}" y1="${margin.top + ph}" y2="${margin.top + ph}" stroke="#999"/>`);
  out.push(`<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + ph}" stroke="#999"/>`);
  out.push('<g class="marks">');
  for (const s of drawn) {
    const pts = s.trial.curve.flatMap((p) => {
      const y = yAxis.y(p.value);
      return y === undefined ? [] : [[fx(p.epoch), y] as const];
    });
    if (pts.length === 0) continue;
    // One point alone is a line of no length: draw it as a dot.
    const d = pts.length === 1 ? `M${n(pts[0]![0] - 1.5)},${n(pts[0]![1])}L${n(pts[0]![0] + 1.5)},${n(pts[0]![1])}` : pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n(x)},${n(y)}`).join('');
    const tip = `${s.trial.name} (${s.trial.status}): best ${objective.metric} ${s.trial.best === undefined ? '—' : formatMetric(s.trial.best)} after ${s.trial.curve.length} epochs`;
    out.push(`<path class="trial ${esc(s.trial.status)}" data-trial="${esc(s.trial.name)}" d="${d}" fill="none" stroke="${s.colour}" stroke-width="${s.width}" stroke-linejoin="round" stroke-linecap="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}><title>${esc(tip)}</title></path>`);
  }
  out.push('</g>');
  out.push(statusLegend(objective.best));
  out.push('</g></svg>');
  return out.join('\n');
}
