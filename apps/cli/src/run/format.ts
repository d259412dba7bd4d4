/**
 * Formats a metric for a log line: four decimals for ordinary values, scientific notation for small ones, so that a
 * loss of 0.00004 never prints as 0.0000.
 */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-3 || abs >= 1e6) return value.toExponential(2);
  return value.toFixed(4);
}

/** Formats milliseconds for humans: `850ms`, `2.4s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}
