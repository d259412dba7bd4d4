import type { History } from '../events/event-map.js';
import type { LearningRateValue } from '../learning-rate/learning-rate-pipeline.js';

/** The history a fit builds: one entry per completed epoch in every column. */
export interface MutableHistory {
  epochs: number[];
  logs: Record<string, number[]>;
  learningRate: number[];
  learningRateFactors: Record<string, number[]>;
}

/** A history as checkpoints store it (fitstream < 0.2 wrote no learning-rate columns). */
export interface StoredHistory {
  readonly epochs: readonly number[];
  readonly logs: Readonly<Record<string, readonly number[]>>;
  readonly learningRate?: readonly number[];
  readonly learningRateFactors?: Readonly<Record<string, readonly number[]>>;
}

export function emptyHistory(): MutableHistory {
  return { epochs: [], logs: {}, learningRate: [], learningRateFactors: {} };
}

const copyColumns = (columns: Readonly<Record<string, readonly number[]>>): Record<string, number[]> =>
  Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, [...v]]));

/** A deep copy. */
export function copyHistory(h: StoredHistory): MutableHistory {
  return { epochs: [...h.epochs], logs: copyColumns(h.logs), learningRate: [...(h.learningRate ?? [])], learningRateFactors: copyColumns(h.learningRateFactors ?? {}) };
}

/** A copy typed for the public API. */
export function freezeHistory<M extends string>(h: MutableHistory): History<M> {
  return copyHistory(h) as unknown as History<M>;
}

/** Appends one epoch: its logs, and the learning rate (and each modifier's factor) of its last update. */
export function recordEpoch(history: MutableHistory, epoch: number, logs: Readonly<Record<string, number>>, lr: LearningRateValue): void {
  history.epochs.push(epoch);
  for (const [k, v] of Object.entries(logs)) (history.logs[k] ??= []).push(v);
  history.learningRate.push(lr.rate);
  for (const [k, v] of Object.entries(lr.factors)) (history.learningRateFactors[k] ??= []).push(v);
}
