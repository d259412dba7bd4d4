/** One measured figure: what `--json` prints, one object per row. */
export interface BenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
}

/** What a suite hands back to the CLI: its rows, plus lines for the human table (never part of the JSON). */
export interface SuiteResult {
  readonly suite: string;
  readonly rows: readonly BenchRow[];
  /** Lines printed above the suite's rows in the table (configuration, backend). */
  readonly notes: readonly string[];
  /** Per-row remarks for the table, by row name (targets met or missed). */
  readonly remarks?: Readonly<Record<string, string>>;
}

/** Median of a non-empty list; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median over rounds of ours ÷ theirs in the same round (pairs run back to back, so drift cancels). */
export function pairedRatio(ours: readonly number[], theirs: readonly number[]): number {
  return median(ours.map((o, i) => o / theirs[i]!));
}

/** A suite's rows and their remarks, filled as it measures. */
export interface RowCollector {
  readonly rows: BenchRow[];
  readonly remarks: Record<string, string>;
  add(name: string, value: number, unit: string, remark?: string): void;
  /** A ratio row with a minimum; the remark says `<goal> ≥ min: met` or `MISSED`. */
  target(name: string, value: number, min: number, goal?: string): void;
  /** The suite's result: its name, the rows and remarks collected, and `notes` for the table. */
  result(suite: string, notes: readonly string[]): SuiteResult;
}

/** Starts an empty {@link RowCollector}; values are rounded with {@link round}. */
export function rowCollector(): RowCollector {
  const rows: BenchRow[] = [];
  const remarks: Record<string, string> = {};
  const add = (name: string, value: number, unit: string, remark?: string): void => {
    rows.push({ name, value: round(value), unit });
    if (remark !== undefined) remarks[name] = remark;
  };
  return {
    rows,
    remarks,
    add,
    target: (name, value, min, goal = 'target') => add(name, value, 'ratio', `${goal} ≥ ${min}: ${value >= min ? 'met' : 'MISSED'}`),
    result: (suite, notes) => ({ suite, rows, notes, remarks }),
  };
}

/** Rounds to `digits` significant digits, keeping integers exact (for readable JSON without false precision). */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value) || value === 0 || Number.isInteger(value)) return value;
  return Number(value.toPrecision(digits));
}

/** The human table: one block per suite, columns name / value / unit / remark. */
export function formatTable(results: readonly SuiteResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`== ${result.suite} ==`);
    for (const note of result.notes) lines.push(`   ${note}`);
    if (result.rows.length === 0) {
      lines.push('   (no rows)', '');
      continue;
    }
    const cells = result.rows.map((r) => [r.name, formatValue(r.value), r.unit, result.remarks?.[r.name] ?? '']);
    const header = ['name', 'value', 'unit', ''];
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const line = (c: readonly string[]) =>
      c
        .map((cell, i) => (i === 1 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    lines.push(line(header), widths.map((w) => '-'.repeat(w)).join('  ').trimEnd(), ...cells.map(line), '');
  }
  return lines.join('\n');
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : Math.abs(value) >= 10 ? value.toFixed(2) : value.toFixed(3);
}
