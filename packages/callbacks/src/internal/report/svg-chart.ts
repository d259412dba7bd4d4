// Hand-written SVG charts, drawn as strings: the HTML report writes them to files, the live dashboard sets them as an
// element's content — one drawing code for both, in Node and in a browser, with no DOM needed to draw. A charting library that renders to SVG in Node without a DOM exists (vega + vega-lite), but
// it is ~10 MB of dependencies for a runtime package whose users want a report file or a live view, and its output needs a
// headless browser or canvas for PNG anyway. The report needs four mark types (line, scatter, markers, rules), linear
// and log axes with nice ticks, and a legend: a few hundred lines we control, which also keeps every coordinate
// checkable in tests.
//
// Whatever the data — a million points, NaN, ±Infinity, constants, subnormals, values near Number.MAX_VALUE — a panel
// has finite coordinates and a bounded size: curves are downsampled per pixel column (downsample.ts), dense scatters
// become a min–max band, and the axes come from ticks.ts.

import { m4Indices, pixelColumns, type Columns } from './downsample.js';
import { axisRange, logTicks, niceTicks, tickLabels } from './ticks.js';

/** One series of a panel: points in two parallel columns. */
export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
  /**
   * `line`, `scatter` (light dots; past two points per pixel column, a band from each column's lowest to its highest
   * point), or `line+markers` (per-epoch curves; markers while there are at most {@link MAX_MARKERS} points).
   */
  readonly kind: 'line' | 'scatter' | 'line+markers';
  readonly opacity?: number;
  readonly width?: number;
  readonly dash?: string;
  /** Leave out of the legend. */
  readonly hideInLegend?: boolean;
}

/** One chart panel. */
export interface ChartPanel {
  readonly title: string;
  readonly xLabel: string;
  readonly series: readonly ChartSeries[];
  /** Log y axis (only positive values are drawn). */
  readonly logY?: boolean;
  /** Faint vertical rules (e.g. epoch boundaries on a per-step chart); left out when closer than 6 pixels on average. */
  readonly rules?: readonly number[];
  /** Integer x ticks only (epochs). */
  readonly integerX?: boolean;
}

/** Markers (with a tooltip each) are drawn on curves of at most this many points. */
export const MAX_MARKERS = 200;

/** Columns per pixel of plot width: M4 at twice the screen resolution stays exact on HiDPI screens and the 1.5× PNG. */
const COLUMNS_PER_PIXEL = 2;

export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, 'DejaVu Sans', sans-serif";

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A coordinate: integers as they are, others with two decimals. */
const n = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** Short labels for tooltips: `0.25`, `1.5k`, `3e-4`. */
const short = (v: number): string => tickLabels([v])[0]!;

/**
 * A linear map of [d0, d1] onto [r0, r1], computed on halves so that a domain spanning more than Number.MAX_VALUE
 * does not overflow: finite for every value in the domain.
 */
function linear(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 / 2 - d0 / 2;
  return span > 0 ? (v) => r0 + ((v / 2 - d0 / 2) / span) * (r1 - r0) : () => (r0 + r1) / 2;
}

/** The lowest and highest of the values `i` with `keep(i)`, without spreading them into Math.min (stack overflow). */
function extent(values: ArrayLike<number>, keep: (i: number) => boolean): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (!keep(i)) continue;
    if (values[i]! < lo) lo = values[i]!;
    if (values[i]! > hi) hi = values[i]!;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/**
 * Renders one panel into an SVG group at (x, y) of size w × h. Non-finite points (and non-positive ones on a log axis)
 * are not drawn; the title says how many.
 */
export function renderPanel(panel: ChartPanel, x: number, y: number, w: number, h: number): string {
  const margin = { left: 58, right: 14, top: 30, bottom: 40 };
  const pw = w - margin.left - margin.right;
  const ph = h - margin.top - margin.bottom;
  const series = panel.series.map((s) => {
    const length = Math.min(s.x.length, s.y.length);
    const drawable = (i: number) => i < length && Number.isFinite(s.x[i]!) && Number.isFinite(s.y[i]!) && (!panel.logY || s.y[i]! > 0);
    let count = 0;
    for (let i = 0; i < length; i++) if (drawable(i)) count += 1;
    return { ...s, length, drawable, count };
  });
  // A smoothed line drops the same points as its raw scatter: count points, not marks.
  const dropped = series.reduce((most, s) => Math.max(most, s.length - s.count), 0);
  const out: string[] = [`<g class="panel" transform="translate(${x},${y})">`];
  out.push(`<rect class="frame" x="0" y="0" width="${w}" height="${h}" fill="#ffffff" stroke="#e3e3e3" rx="6"/>`);
  const title = dropped > 0 ? `${panel.title} (${dropped} non-finite point${dropped === 1 ? '' : 's'} not drawn)` : panel.title;
  out.push(`<text class="title" x="${margin.left}" y="20" font-size="13" font-weight="600" fill="#222">${esc(title)}</text>`);
  const xs = series.map((s) => extent(s.x, s.drawable)).filter((e) => e !== undefined);
  const ys = series.map((s) => extent(s.y, s.drawable)).filter((e) => e !== undefined);
  if (xs.length === 0 || ys.length === 0) {
    out.push(`<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text></g>`);
    return out.join('');
  }
  const lowest = (es: [number, number][]) => es.reduce((m, e) => Math.min(m, e[0]), Infinity);
  const highest = (es: [number, number][]) => es.reduce((m, e) => Math.max(m, e[1]), -Infinity);
  // A single step or epoch spans ±1 around it; any other degenerate range is widened as the ticks widen it.
  const [xLo, xHi] = [lowest(xs), highest(xs)];
  const [x0, x1] = xLo === xHi && Math.abs(xLo) < 2 ** 52 ? [xLo - 1, xHi + 1] : axisRange(xLo, xHi);
  const [y0, y1] = [lowest(ys), highest(ys)];
  let yTicks: number[];
  let fy: (v: number) => number;
  if (panel.logY) {
    yTicks = logTicks(y0, y1);
    const toPixel = linear(Math.log10(yTicks[0]!), Math.log10(yTicks[yTicks.length - 1]!), margin.top + ph, margin.top);
    fy = (v) => toPixel(Math.log10(v));
  } else {
    yTicks = niceTicks(y0, y1, 5);
    fy = linear(yTicks[0]!, yTicks[yTicks.length - 1]!, margin.top + ph, margin.top);
  }
  const inside = niceTicks(x0, x1, 6, panel.integerX).filter((t) => t >= x0 && t <= x1);
  const xTicks = inside.length >= 2 ? inside : [x0, x1];
  const fx = linear(x0, x1, margin.left, margin.left + pw);

  // Grid and axes.
  out.push('<g class="grid" stroke="#eeeeee" stroke-width="1">');
  for (const t of yTicks) out.push(`<line x1="${margin.left}" x2="${margin.left + pw}" y1="${n(fy(t))}" y2="${n(fy(t))}"/>`);
  out.push('</g>');
  const rules = (panel.rules ?? []).filter((r) => r > x0 && r < x1);
  if (rules.length > 0 && rules.length <= pw / 6) {
    out.push('<g class="rules" stroke="#c8c8c8" stroke-width="1" stroke-dasharray="3 3">');
    for (const r of rules) out.push(`<line x1="${n(fx(r))}" x2="${n(fx(r))}" y1="${margin.top}" y2="${margin.top + ph}"/>`);
    out.push('</g>');
  }
  out.push(`<g class="axis y-axis" font-size="11" fill="#555" text-anchor="end">`);
  tickLabels(yTicks).forEach((label, i) => out.push(`<text x="${margin.left - 6}" y="${n(fy(yTicks[i]!) + 4)}">${esc(label)}</text>`));
  out.push('</g>');
  out.push(`<g class="axis x-axis" font-size="11" fill="#555" text-anchor="middle">`);
  tickLabels(xTicks).forEach((label, i) => out.push(`<text x="${n(fx(xTicks[i]!))}" y="${margin.top + ph + 16}">${esc(label)}</text>`));
  out.push(`<text class="x-label" x="${margin.left + pw / 2}" y="${h - 6}" fill="#777">${esc(panel.xLabel)}</text>`);
  out.push('</g>');
  out.push(`<line class="x-axis-line" x1="${margin.left}" x2="${margin.left + pw}" y1="${margin.top + ph}" y2="${margin.top + ph}" stroke="#999"/>`);
  out.push(`<line class="y-axis-line" x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + ph}" stroke="#999"/>`);

  // Marks.
  const columnCount = Math.max(1, Math.ceil(pw * COLUMNS_PER_PIXEL));
  out.push(`<g class="marks">`);
  for (const s of series) {
    const label = esc(s.label);
    const columns = () => pixelColumns(s.x, s.y, x0, x1, columnCount, s.drawable);
    if (s.kind === 'scatter') {
      if (s.count > 2 * columnCount) {
        out.push(`<g class="series scatter band" data-label="${label}">${band(columns(), s, fx, fy, s.opacity ?? 0.3)}</g>`);
        continue;
      }
      out.push(`<g class="series scatter" data-label="${label}" fill="${s.color}" fill-opacity="${s.opacity ?? 0.3}">`);
      for (let i = 0; i < s.length; i++) if (s.drawable(i)) out.push(`<circle cx="${n(fx(s.x[i]!))}" cy="${n(fy(s.y[i]!))}" r="1.8"/>`);
      out.push('</g>');
      continue;
    }
    // Every drawable point while there are few, else the M4 points of each pixel column.
    const indices: ArrayLike<number> = s.count > 4 * columnCount ? m4Indices(columns()) : drawableIndices(s);
    let d = '';
    for (let k = 0; k < indices.length; k++) d += `${k === 0 ? 'M' : 'L'}${n(fx(s.x[indices[k]!]!))},${n(fy(s.y[indices[k]!]!))}`;
    out.push(`<g class="series line" data-label="${label}">`);
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    if (s.kind === 'line+markers' && indices.length <= MAX_MARKERS) {
      for (let k = 0; k < indices.length; k++) {
        const [px, py] = [s.x[indices[k]!]!, s.y[indices[k]!]!];
        out.push(`<circle cx="${n(fx(px))}" cy="${n(fy(py))}" r="3" fill="#fff" stroke="${s.color}" stroke-width="1.5"><title>${label} ${esc(short(px))}: ${esc(String(Number(py.toPrecision(6))))}</title></circle>`);
      }
    }
    out.push('</g>');
  }
  out.push('</g>');

  // Legend, top right.
  const legend = series.filter((s) => !s.hideInLegend);
  if (legend.length > 0) {
    const widths = legend.map((s) => 26 + s.label.length * 6.4);
    let lx = w - margin.right - widths.reduce((a, b) => a + b + 10, 0);
    out.push(`<g class="legend" font-size="11" fill="#333">`);
    legend.forEach((s, i) => {
      const mark = s.kind === 'scatter' ? `<circle cx="${n(lx + 9)}" cy="16" r="3" fill="${s.color}" fill-opacity="0.5"/>` : `<line x1="${n(lx)}" x2="${n(lx + 18)}" y1="16" y2="16" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`;
      out.push(`<g class="legend-item" data-label="${esc(s.label)}">${mark}<text x="${n(lx + 22)}" y="20">${esc(s.label)}</text></g>`);
      lx += widths[i]! + 10;
    });
    out.push('</g>');
  }
  out.push('</g>');
  return out.join('');
}

/** Layout of {@link renderPanelsSvg}. */
export interface PanelsLayout {
  /** The SVG's class (the report: `training-report`; the live dashboard: `live-dashboard-charts`). */
  readonly className: string;
  /** A heading above the panels (none when absent). */
  readonly title?: string;
  /** An inline style for the SVG element (e.g. to scale it with its container). */
  readonly style?: string;
}

const PANEL_W = 540;
const PANEL_H = 300;
const GAP = 16;

/**
 * Panels as one SVG, laid out as the report and the live dashboard show them: two columns (per step, per epoch), the
 * last panel (the learning rate) across the bottom. Its size is fixed by the number of panels; scale it with CSS.
 */
export function renderPanelsSvg(panels: readonly ChartPanel[], layout: PanelsLayout): string {
  const width = 2 * PANEL_W + 3 * GAP;
  const rows = Math.ceil((panels.length - 1) / 2) + 1;
  const top = layout.title === undefined ? GAP : 44;
  const height = top + rows * (PANEL_H + GAP);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="${esc(layout.className)}"${layout.style === undefined ? '' : ` style="${esc(layout.style)}"`} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${esc(FONT)}">`,
    `<rect width="${width}" height="${height}" fill="#f7f7f8"/>`,
    ...(layout.title === undefined ? [] : [`<text x="${GAP}" y="28" font-size="17" font-weight="600" fill="#111">${esc(layout.title)}</text>`]),
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

function drawableIndices(s: { readonly length: number; readonly drawable: (i: number) => boolean }): number[] {
  const indices: number[] = [];
  for (let i = 0; i < s.length; i++) if (s.drawable(i)) indices.push(i);
  return indices;
}

/**
 * A dense scatter as one filled path: along the top through each column's highest point, back along the bottom through
 * each column's lowest, so that the spread and every outlier stay visible at a fixed size. Its outline is stroked too,
 * so that a column whose points are all equal still shows.
 */
function band(columns: Columns, s: ChartSeries, fx: (v: number) => number, fy: (v: number) => number, opacity: number): string {
  const top: string[] = [];
  const bottom: string[] = [];
  for (let c = 0; c < columns.count; c++) {
    if (columns.first[c] === -1) continue;
    const [hi, lo] = [columns.high[c]!, columns.low[c]!];
    top.push(`${n(fx(s.x[hi]!))},${n(fy(s.y[hi]!))}`);
    bottom.push(`${n(fx(s.x[lo]!))},${n(fy(s.y[lo]!))}`);
  }
  const d = `M${top.join('L')}L${bottom.reverse().join('L')}Z`;
  return `<path d="${d}" fill="${s.color}" fill-opacity="${opacity}" stroke="${s.color}" stroke-opacity="${opacity}" stroke-width="1" stroke-linejoin="round"/>`;
}
