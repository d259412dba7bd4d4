// Axis ticks and their labels. d3-array's `ticks` is the well-known version of Heckbert's nice numbers, but it returns
// the ticks inside a range (none for a range one ulp wide, [x] for a constant), leaves covering the data to a scale's
// `nice()`, and brings d3 along for ~100 lines. The report needs more than nice numbers whatever a run logs: ticks
// that are finite, strictly increasing, at least two, at most a few dozen, and that cover every finite point — for a
// constant, a range one ulp wide, subnormal values, a span past Number.MAX_VALUE, NaN or ±Infinity among the data.
// ticks.test.ts proves these with fast-check over arbitrary doubles.

/** More ticks than any axis draws: a bound on the output of {@link niceTicks} and {@link logTicks} whatever the range. */
export const MAX_TICKS = 50;

/** Below this magnitude values are drawn as zero: the axis is a unit around them (no arithmetic on subnormals). */
const TINY = 1e-290;

/** The finite ends of [lo, hi], ordered; `undefined` when neither is finite. */
function finiteRange(lo: number, hi: number): [number, number] | undefined {
  const a = Number.isFinite(lo) ? lo : hi;
  const b = Number.isFinite(hi) ? hi : lo;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return undefined;
  return a <= b ? [a, b] : [b, a];
}

/**
 * An axis range for the data range [lo, hi] (finite, ordered): as it is when it is wide enough to divide, else widened
 * by a tenth of its magnitude each way (a constant, values one ulp apart), or to ±1 around values too small to scale
 * (zero, subnormals). The result is finite, with lo < hi.
 */
export function axisRange(lo: number, hi: number): [number, number] {
  const magnitude = Math.max(Math.abs(lo), Math.abs(hi));
  if (magnitude < TINY) return [lo - 1, hi + 1];
  if (hi - lo > magnitude * 1e-9) return [lo, hi];
  const pad = magnitude * 0.1;
  return [Math.max(lo - pad, -Number.MAX_VALUE), Math.min(hi + pad, Number.MAX_VALUE)];
}

/** 1, 2 or 5 × 10ⁿ nearest to x (x > 0, normal). */
function niceStep(x: number): number {
  const exp = Math.floor(Math.log10(x));
  const power = 10 ** exp;
  const f = x / power;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
}

/** Twelve significant digits: `0.30000000000000004` → `0.3`; a negative zero becomes zero. */
const round = (v: number): number => Number(v.toPrecision(12)) + 0;

const clamp = (v: number): number => Math.min(Math.max(v, -Number.MAX_VALUE), Number.MAX_VALUE);

/**
 * "Nice" linear ticks (multiples of 1, 2 or 5 × 10ⁿ) covering [lo, hi]: the first ≤ the lowest finite end, the last ≥
 * the highest. Whatever the input, the ticks are finite, strictly increasing, at least 2 and at most
 * {@link MAX_TICKS}; non-finite ends are ignored (none finite: a unit axis). `count` is the number of ticks wanted
 * (clamped to 2…20); `integer` keeps whole-number steps (epochs).
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  const [lo0, hi0] = finiteRange(lo, hi) ?? [0, 1];
  const [a, b] = axisRange(lo0, hi0);
  const wanted = Number.isFinite(count) ? Math.min(Math.max(Math.round(count), 2), 20) : 5;
  if (b - a > 1e300) {
    // Near Number.MAX_VALUE the steps and the ticks past the ends overflow: tick the range scaled down, then scale
    // back (a nice number times 10¹⁰ is still nice), clamped to the largest finite values.
    return cover(niceTicks(a / 1e10, b / 1e10, wanted, integer).map((t) => clamp(round(t * 1e10))), a, b, Number.NaN);
  }
  let step = niceStep((b - a) / (wanted - 1));
  if (integer) step = Math.max(1, step);
  // Ticks by index, never by accumulation (t += step), so rounding can neither stall nor drift the loop.
  let first = Math.floor(a / step);
  let last = Math.ceil(b / step);
  while (last - first + 1 > MAX_TICKS - 4) {
    // Not reached with count ≤ 20 (at most ~1.5·count + 2 ticks); a guard that keeps the bound whatever the arithmetic
    // (`cover` below may add one tick at each end, the scaled branch above two more).
    step *= 2;
    first = Math.floor(a / step);
    last = Math.ceil(b / step);
  }
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(round(i * step));
  return cover(ticks, a, b, step);
}

/**
 * Makes `ticks` (ordered, finite) strictly increasing and covering [a, b]: rounding to 12 digits may have moved an end
 * tick inside the range by a hair, in which case one more step is added, and where even that fails the end itself.
 */
function cover(ticks: number[], a: number, b: number, step: number): number[] {
  const out = ticks.filter((t, i) => i === 0 || t > ticks[i - 1]!);
  if (out[0]! > a) {
    const below = round(out[0]! - step);
    out.unshift(below <= a ? below : a);
  }
  if (out[out.length - 1]! < b) {
    const above = round(out[out.length - 1]! + step);
    out.push(above >= b && Number.isFinite(above) ? above : b);
  }
  return out;
}

/**
 * Ticks of a log axis covering [lo, hi]: powers of ten (with 2· and 5· when the range spans at most two decades, every
 * k-th power when it spans more than ten). Non-finite and non-positive ends are ignored (none left: 1 and 10). The
 * ticks are finite, positive, strictly increasing, at least 2 and at most {@link MAX_TICKS}.
 */
export function logTicks(lo: number, hi: number): number[] {
  const [a, b] = finiteRange(lo > 0 ? lo : Number.NaN, hi > 0 ? hi : Number.NaN) ?? [1, 10];
  // 10^-323 is the smallest power of ten above zero, 10^308 the largest below Number.MAX_VALUE.
  const e0 = Math.max(Math.floor(Math.log10(a)), -323);
  const e1 = Math.min(Math.ceil(Math.log10(b)), 308);
  const every = Math.max(1, Math.ceil((e1 - e0) / 10));
  const multiples = e1 - e0 <= 2 ? [1, 2, 5] : [1];
  const candidates: number[] = [];
  for (let e = e0; e <= e1 + every; e += every) {
    for (const m of multiples) {
      const t = round(m * 10 ** e);
      if (t > 0 && Number.isFinite(t)) candidates.push(t);
    }
  }
  // Every tick inside the range, plus the nearest one outside on each side so the axis covers all points.
  const below = candidates.filter((t) => t <= a).pop() ?? a;
  const above = candidates.find((t) => t >= b) ?? b;
  const inside = candidates.filter((t) => t > below && t < above);
  // A constant that is a tick itself (below = above): the decade above it closes the axis.
  const top = above > below ? above : below <= Number.MAX_VALUE / 10 ? round(below * 10) : Number.MAX_VALUE;
  inside.unshift(below);
  inside.push(top);
  return inside;
}

/** A short tick label at `digits` significant digits: `0.25`, `1.5k`, `3e-4`. */
export function tickLabel(v: number, digits = 4): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 && a < 1e6 && Number.isInteger(v / 100)) return `${Number((v / 1000).toPrecision(Math.max(3, digits - 1)))}k`;
  // toExponential, not Number(toPrecision): rounding -1.797e308 to two digits as a number gives -Infinity.
  if (a < 1e-3 || a >= 1e6) return v.toExponential(Math.max(1, digits - 3)).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(digits)));
}

/**
 * Labels of an axis's ticks: {@link tickLabel} with the fewest digits (4 or more) at which neighbours differ, so a
 * narrow range (a loss flat to five digits) does not read `2.303, 2.303, 2.303`.
 */
export function tickLabels(ticks: readonly number[]): string[] {
  let labels: string[] = [];
  for (let digits = 4; digits <= 17; digits++) {
    labels = ticks.map((t) => tickLabel(t, digits));
    if (labels.every((l, i) => i === 0 || l !== labels[i - 1])) break;
  }
  return labels;
}
