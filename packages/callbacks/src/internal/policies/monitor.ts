import type { LogName } from '@fitstream/core';
import { inputError } from '../input-error.js';

/** Whether a larger or a smaller value of a monitored metric is better. */
export type MonitorMode = 'min' | 'max' | 'auto';

const MAXIMISED = /acc|auc|f1/i;

/**
 * Resolves `'auto'`: names containing `acc`, `auc` or `f1` (accuracy, categoricalAccuracy, val_auc, f1Score …) are
 * maximised, everything else (losses, errors) minimised.
 */
export function resolveMode(monitor: string, mode: MonitorMode = 'auto'): 'min' | 'max' {
  if (mode === 'min' || mode === 'max') return mode;
  if (mode !== 'auto') throw inputError(`options.mode: must be 'min', 'max' or 'auto', got ${String(mode)}.`);
  return MAXIMISED.test(monitor) ? 'max' : 'min';
}

/** Which epoch log a policy watches and which direction is an improvement (early stopping, plateau). */
export interface MonitorOptions<M extends string = string> {
  /** Epoch log to watch (default `'val_loss'`). Typed from the trainer's metrics where TypeScript can infer them. */
  readonly monitor?: NoInfer<LogName<M>>;
  /** `'auto'` (default) maximises names containing acc/auc/f1 and minimises the rest. */
  readonly mode?: MonitorMode;
}

/** A watched epoch log with defaults applied: its name, which direction improves, by how much, and for how long to wait. */
export interface MonitoredMetric {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly patience: number;
}

/**
 * Applies defaults to the options a monitoring policy shares and checks them, with errors that name `who`:
 * `monitor` defaults to `'val_loss'` and must be a non-empty name, `mode` is resolved, `minDelta` is taken as an
 * absolute value, `patience` must be an integer ≥ 0. `defaults` are the policy's own (Keras': 0 and 0 for early
 * stopping, 1e-4 and 10 for the plateau).
 */
export function monitoredMetric(
  who: string,
  options: MonitorOptions & { readonly minDelta?: number; readonly patience?: number },
  defaults: { readonly minDelta: number; readonly patience: number },
): MonitoredMetric {
  const monitor: string = options.monitor ?? 'val_loss';
  if (typeof monitor !== 'string' || monitor.length === 0) throw inputError(`${who}: monitor must be a metric name such as "val_loss".`);
  return {
    monitor,
    mode: resolveMode(monitor, options.mode),
    minDelta: Math.abs(assertFiniteNumber(options.minDelta ?? defaults.minDelta, `${who}: minDelta`)),
    patience: assertNonNegativeInt(options.patience ?? defaults.patience, `${who}: patience`),
  };
}

/** `true` when `value` beats `reference` by more than `minDelta` (absolute, as Keras). */
export function isImprovement(value: number, reference: number | undefined, mode: 'min' | 'max', minDelta: number): boolean {
  if (Number.isNaN(value)) return false;
  if (reference === undefined) return true;
  return mode === 'min' ? value < reference - minDelta : value > reference + minDelta;
}

/**
 * The value of `monitor` in epoch logs, `undefined` when it is legitimately absent (a `val_` name in an epoch without
 * validation), or an error naming the available names when it can never appear.
 */
export function monitoredValue(
  who: string,
  monitor: string,
  logs: Readonly<Record<string, number | undefined>>,
  metricNames: readonly string[] | undefined,
): number | undefined {
  const value = logs[monitor];
  if (value !== undefined) return value;
  const possible = new Set<string>([...Object.keys(logs), ...(metricNames ?? []).flatMap((n) => [n, `val_${n}`])]);
  if (!possible.has(monitor)) {
    const names = [...possible].sort();
    throw new Error(`${who}: monitor "${monitor}" is not reported by this trainer. Available: ${names.map((n) => `"${n}"`).join(', ')}.`);
  }
  return undefined;
}

/** Checks that a monitor name can appear at all, given the trainer's metric names (fails before training starts). */
export function assertMonitorKnown(who: string, monitor: string, metricNames: readonly string[] | undefined): void {
  if (!metricNames) return;
  monitoredValue(who, monitor, {}, metricNames);
}

export function assertFiniteNumber(value: unknown, what: string, check?: (v: number) => boolean, expect = 'a finite number'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (check && !check(value))) {
    throw inputError(`${what} must be ${expect}, got ${String(value)}.`);
  }
  return value;
}

export function assertNonNegativeInt(value: unknown, what: string): number {
  return assertFiniteNumber(value, what, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
}

export function assertPositiveInt(value: unknown, what: string): number {
  return assertFiniteNumber(value, what, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
}
