// Hand-written SVG charts. A charting library that renders to SVG in Node without a DOM exists (vega + vega-lite), but
// it is ~10 MB of dependencies for a runtime package whose users only want a report file, and its output needs a
// headless browser or canvas for PNG anyway. The report needs four mark types (line, scatter, markers, rules), linear
// and log axes with nice ticks, and a legend: a few hundred lines we control, which also keeps every coordinate
// checkable in tests.

/** One series of a panel. */
export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** `line`, `scatter` (light dots), or `line+markers` (per-epoch curves). */
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
  /** Faint vertical rules (e.g. epoch boundaries on a per-step chart). */
  readonly rules?: readonly number[];
  /** Integer x ticks only (epochs). */
  readonly integerX?: boolean;
}

export const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, 'DejaVu Sans', sans-serif";

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short tick labels: `0.25`, `1.5k`, `3e-4`. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 && a < 1e6 && Number.isInteger(v / 100)) return `${Number((v / 1000).toPrecision(3))}k`;
  if (a < 1e-3 || a >= 1e6) return Number(v.toPrecision(2)).toExponential().replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** "Nice" linear ticks covering [lo, hi] (Heckbert's algorithm). */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    // NaN or ±Infinity in the range: an axis over whatever is finite, else a unit axis (nothing to scale to).
    const finite = [lo, hi].filter(Number.isFinite);
    return finite.length ? niceTicks(Math.min(...finite), Math.max(...finite), count, integer) : niceTicks(0, 1, count, integer);
  }
  if (hi < lo) [lo, hi] = [hi, lo];
  const magnitude = Math.max(Math.abs(lo), Math.abs(hi));
  // A range narrower than the float spacing at its magnitude (constant, one ulp apart) is widened by a tenth of the
  // magnitude (a unit around tiny or subnormal values), or the step would be too small to move from tick to tick.
  if (!(hi - lo > magnitude * 1e-9)) {
    const pad = magnitude < 1e-200 ? 1 : magnitude * 0.1;
    [lo, hi] = [Math.max(lo - pad, -Number.MAX_VALUE), Math.min(hi + pad, Number.MAX_VALUE)];
  }
  if (!Number.isFinite(hi - lo)) return [lo, 0, hi]; // a span past Number.MAX_VALUE: the ends and zero
  const niceNum = (x: number, round: boolean) => {
    const exp = Math.floor(Math.log10(x));
    const f = x / 10 ** exp;
    const nf = round ? (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) : f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * 10 ** exp;
  };
  let step = niceNum(niceNum(hi - lo, false) / Math.max(1, count - 1), true);
  if (integer) step = Math.max(1, Math.round(step));
  if (!(step > 0) || !Number.isFinite(step)) return [lo, hi];
  const start = Math.floor(lo / step) * step;
  const n = Math.min(MAX_TICKS, Math.ceil(hi / step) - Math.floor(lo / step));
  // Ticks by index, never by accumulation (t += step), so rounding cannot stall or drift the loop.
  return Array.from({ length: n + 1 }, (_, i) => Number((start + i * step).toPrecision(12)));
}

/** More ticks than any axis draws: a bound on `niceTicks`' output whatever the range. */
const MAX_TICKS = 50;

/** Powers of ten (and 2·, 5· when the range is narrow) covering [lo, hi], lo > 0. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) for (const m of mults) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  // Every tick inside the range, plus the nearest one outside on each side so the axis covers all points.
  const below = ticks.filter((t) => t <= lo).pop();
  const above = ticks.find((t) => t >= hi);
  return ticks.filter((t) => (t > lo && t < hi) || t === below || t === above);
}

const n = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/**
 * Renders one panel into an SVG group at (x, y) of size w × h. Non-finite points (and non-positive ones on a log axis)
 * are not drawn; the title says how many.
 */
export function renderPanel(panel: ChartPanel, x: number, y: number, w: number, h: number): string {
  const margin = { left: 58, right: 14, top: 30, bottom: 40 };
  const pw = w - margin.left - margin.right;
  const ph = h - margin.top - margin.bottom;
  const drawable = (p: readonly [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!panel.logY || p[1] > 0);
  let dropped = 0;
  const series = panel.series.map((s) => {
    const points = s.points.filter(drawable);
    // A smoothed line drops the same points as its raw scatter: count points, not marks.
    dropped = Math.max(dropped, s.points.length - points.length);
    return { ...s, points };
  });
  const all = series.flatMap((s) => s.points);
  const out: string[] = [`<g class="panel" transform="translate(${x},${y})">`];
  out.push(`<rect class="frame" x="0" y="0" width="${w}" height="${h}" fill="#ffffff" stroke="#e3e3e3" rx="6"/>`);
  const title = dropped > 0 ? `${panel.title} (${dropped} non-finite point${dropped === 1 ? '' : 's'} not drawn)` : panel.title;
  out.push(`<text class="title" x="${margin.left}" y="20" font-size="13" font-weight="600" fill="#222">${esc(title)}</text>`);
  if (all.length === 0) {
    out.push(`<text x="${w / 2}" y="${h / 2}" text-anchor="middle" font-size="12" fill="#888">no data</text></g>`);
    return out.join('');
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const ys = all.map((p) => p[1]);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  let yTicks: number[];
  let fy: (v: number) => number;
  if (panel.logY) {
    yTicks = logTicks(y0, y1);
    const [l0, l1] = [Math.log10(Math.min(y0, yTicks[0]!)), Math.log10(Math.max(y1, yTicks[yTicks.length - 1]!))];
    const span = l1 - l0 || 1;
    fy = (v) => margin.top + ph - ((Math.log10(v) - l0) / span) * ph;
  } else {
    if (y0 === y1) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.1, y1 + (Math.abs(y1) || 1) * 0.1];
    yTicks = niceTicks(y0, y1, 5);
    const [t0, t1] = [Math.min(y0, yTicks[0]!), Math.max(y1, yTicks[yTicks.length - 1]!)];
    fy = (v) => margin.top + ph - ((v - t0) / (t1 - t0)) * ph;
  }
  const xTicks = niceTicks(x0, x1, 6, panel.integerX).filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9);
  const fx = (v: number) => margin.left + ((v - x0) / (x1 - x0)) * pw;

  // Grid and axes.
  out.push('<g class="grid" stroke="#eeeeee" stroke-width="1">');
  for (const t of yTicks) out.push(`<line x1="${margin.left}" x2="${margin.left + pw}" y1="${n(fy(t))}" y2="${n(fy(t))}"/>`);
  out.push('</g>');
  if (panel.rules?.length) {
    out.push('<g class="rules" stroke="#c8c8c8" stroke-width="1" stroke-dasharray="3 3">');
    for (const r of panel.rules) if (r > x0 && r < x1) out.push(`<line x1="${n(fx(r))}" x2="${n(fx(r))}" y1="${margin.top}" y2="${margin.top + ph}"/>`);
    out.push('</g>');
  }
  out.push(`<g class="axis y-axis" font-size="11" fill="#555" text-anchor="end">`);
  for (const t of yTicks) out.push(`<text x="${margin.left - 6}" y="${n(fy(t) + 4)}">${esc(tickLabel(t))}</text>`);
  out.push('</g>');
  out.push(`<g class="axis x-axis" font-size="11" fill="#555" text-anchor="middle">`);
  for (const t of xTicks) out.push(`<text x="${n(fx(t))}" y="${margin.top + ph + 16}">${esc(tickLabel(t))}</text>`);
  out.push(`<text class="x-label" x="${margin.left + pw / 2}" y="${h - 6}" fill="#777">${esc(panel.xLabel)}</text>`);
  out.push('</g>');
  out.push(`<line class="x-axis-line" x1="${margin.left}" x2="${margin.left + pw}" y1="${margin.top + ph}" y2="${margin.top + ph}" stroke="#999"/>`);
  out.push(`<line class="y-axis-line" x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + ph}" stroke="#999"/>`);

  // Marks, clipped to the plot area.
  out.push(`<g class="marks">`);
  for (const s of series) {
    const pts = s.points.map((p) => [fx(p[0]), fy(p[1])] as const);
    const label = esc(s.label);
    if (s.kind === 'scatter') {
      out.push(`<g class="series scatter" data-label="${label}" fill="${s.color}" fill-opacity="${s.opacity ?? 0.3}">`);
      for (const [px, py] of pts) out.push(`<circle cx="${n(px)}" cy="${n(py)}" r="1.8"/>`);
      out.push('</g>');
      continue;
    }
    const d = pts.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${n(px)},${n(py)}`).join('');
    out.push(`<g class="series line" data-label="${label}">`);
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-opacity="${s.opacity ?? 1}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    if (s.kind === 'line+markers') {
      s.points.forEach((p, i) => {
        const [px, py] = pts[i]!;
        out.push(`<circle cx="${n(px)}" cy="${n(py)}" r="3" fill="#fff" stroke="${s.color}" stroke-width="1.5"><title>${label} ${esc(tickLabel(p[0]))}: ${esc(String(Number(p[1].toPrecision(6))))}</title></circle>`);
      });
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
