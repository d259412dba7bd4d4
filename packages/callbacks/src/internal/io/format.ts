/**
 * Formats a metric for humans with four significant digits, switching to exponent notation for tiny and huge values,
 * so that a loss of 0.00004 prints as `4.000e-5`, never as `0.00` (tensorflow/tfjs#899).
 *
 * @example
 * ```ts
 * formatMetric(0.52341); // '0.5234'
 * formatMetric(4e-5);    // '4.000e-5'
 * ```
 */
export function formatMetric(value: number, digits = 4): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e5) return value.toExponential(digits - 1).replace('e+', 'e');
  return value.toPrecision(digits);
}

/** Formats a duration: `850ms`, `12.4s`, `3m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** A rate per second: `12.3/s`, `1.2k/s`. */
export function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `-- ${unit}/s`;
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k ${unit}/s`;
  return `${perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toPrecision(3)} ${unit}/s`;
}
