// A hand-written SVG line plot. Plotting libraries for Node either need a DOM (d3 + jsdom), pull in a rendering stack
// (vega, chart.js + canvas), or are far larger than this file; the LR-finder plot is one log-x line chart, ~80 lines.

/** One series of a {@link lineChartSvg}. */
export interface SvgSeries {
  readonly values: readonly number[];
  readonly color: string;
  readonly width?: number;
  readonly opacity?: number;
  readonly label: string;
}

/** Options of {@link lineChartSvg}. */
export interface SvgChartOptions {
  readonly x: readonly number[];
  readonly series: readonly SvgSeries[];
  readonly logX?: boolean;
  readonly title?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly marker?: { readonly x: number; readonly y: number; readonly label: string };
  readonly width?: number;
  readonly height?: number;
  /** Clip the y axis at this value (points above are drawn at the top edge). */
  readonly yMax?: number;
}

const fmt = (v: number): string => (v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(0) : String(Number(v.toPrecision(3))));
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained SVG line chart (log or linear x), as a string. Non-finite values break the line. */
export function lineChartSvg(o: SvgChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 400;
  const m = { left: 64, right: 16, top: o.title ? 32 : 16, bottom: 48 };
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const xs = o.x.map(tx);
  // Reductions, not Math.min(...values): spreading a long array into arguments overflows the stack.
  const min = (values: readonly number[], empty: number) => (values.length ? values.reduce((a, b) => Math.min(a, b)) : empty);
  const max = (values: readonly number[], empty: number) => (values.length ? values.reduce((a, b) => Math.max(a, b)) : empty);
  const x0 = min(xs, 0);
  const x1 = max(xs, 1);
  const finite = o.series.flatMap((s) => s.values.filter(Number.isFinite));
  let y0 = min(finite, 0);
  let y1 = max(finite, 1);
  if (o.yMax !== undefined && o.yMax > y0) y1 = Math.min(y1, o.yMax);
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const py = (v: number) => m.top + (1 - (Math.min(v, y1) - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (o.title) out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(o.title)}</text>`);
  // Axes and ticks: decades on a log axis, 5 even steps otherwise.
  const bottom = height - m.bottom;
  out.push(`<path d="M${m.left},${m.top}V${bottom}H${width - m.right}" stroke="#333" fill="none"/>`);
  const xTicks = o.logX
    ? Array.from({ length: Math.floor(x1) - Math.ceil(x0) + 1 }, (_, i) => Math.ceil(x0) + i)
    : Array.from({ length: 6 }, (_, i) => x0 + ((x1 - x0) * i) / 5);
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/><text x="${x}" y="${bottom + 16}" text-anchor="middle">${o.logX ? `1e${t}` : fmt(t)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const v = y0 + ((y1 - y0) * i) / 5;
    const y = py(v).toFixed(1);
    out.push(`<line x1="${m.left - 4}" x2="${m.left}" y1="${y}" y2="${y}" stroke="#333"/><text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  if (o.xLabel) out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) out.push(`<text transform="translate(14,${(m.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, k) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      const x = xs[i];
      if (x === undefined || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(x).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
    });
    out.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="${s.width ?? 1.5}" stroke-opacity="${s.opacity ?? 1}"><title>${esc(s.label)}</title></path>`);
    out.push(`<text x="${width - m.right - 4}" y="${m.top + 12 + 14 * k}" text-anchor="end" fill="${esc(s.color)}">${esc(s.label)}</text>`);
  });
  if (o.marker && Number.isFinite(o.marker.y)) {
    const x = px(tx(o.marker.x)).toFixed(1);
    const y = py(o.marker.y).toFixed(1);
    out.push(`<circle cx="${x}" cy="${y}" r="4" fill="#d62728"/><text x="${x}" y="${Number(y) - 8}" text-anchor="middle" fill="#d62728">${esc(o.marker.label)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
