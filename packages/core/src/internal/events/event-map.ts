import { filter, type OperatorFunction } from 'rxjs';
import type { LazyMetrics } from './lazy-metrics.js';
import type { EpochLogs, ValidationLogs } from './metric-names.js';

/** Why a backend candidate was not used. */
export interface BackendFallback {
  readonly backend: string;
  readonly reason: string;
  /** How to make this backend available, when fitstream knows. */
  readonly fix: string | undefined;
}

/** An error as plain data, so that events stay JSON-serializable (`fit` itself rejects with the original error). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
}

/** Turns any thrown value into a {@link SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error), stack: undefined };
}

/** Where a fit ended. */
export type FitEndReason = 'completed' | 'stopped' | 'error';

/** Keras-style history: one array per log name, one entry per completed epoch. */
export interface History<M extends string = string> {
  readonly epochs: readonly number[];
  readonly logs: Readonly<Partial<Record<keyof EpochLogs<M> & string, readonly number[]>>>;
  /** The learning rate of each epoch's last update. */
  readonly learningRate: readonly number[];
  /** Each learning-rate modifier's factor at each epoch's last update, by modifier name. */
  readonly learningRateFactors: Readonly<Record<string, readonly number[]>>;
}

/** Position of the loop, carried by every step-level event. */
export interface LoopPosition {
  /** Epoch index, 0-based (Keras convention). */
  readonly epoch: number;
  /** Steps completed so far in the whole run (the global step; a step skipped by a gradient transform counts). */
  readonly step: number;
  /** Learning rate in force. */
  readonly learningRate: number;
}

/**
 * Every event the trainer publishes, keyed by `type`. Plugin packages add their own through module augmentation:
 *
 * ```ts
 * declare module '@fitstream/core' {
 *   interface TrainerEventMap<M extends string = string> {
 *     'sampler:resampled': { readonly epoch: number; readonly size: number };
 *   }
 * }
 * ```
 *
 * `M` is the union of metric names the trainer was created with, so `e.metrics.val_acuracy` fails to compile.
 */
export interface TrainerEventMap<M extends string = string> {
  /** The tfjs backend the trainer runs on, and why each preferred candidate was skipped. */
  'backend:selected': { readonly backend: string; readonly fallbacks: readonly BackendFallback[] };
  'fit:start': {
    readonly epochs: number;
    readonly initialEpoch: number;
    readonly batchSize: number;
    /** Batches per epoch when known in advance (in-memory data, `stepsPerEpoch`), otherwise `undefined`. */
    readonly batchesPerEpoch: number | undefined;
    /** Training samples per epoch when known in advance. */
    readonly samples: number | undefined;
    readonly accumulateBatches: number;
    readonly step: number;
    readonly learningRate: number;
    /** The checkpoint directory a resumed run started from. */
    readonly resumedFrom: string | undefined;
  };
  'epoch:start': LoopPosition & { readonly batchesPerEpoch: number | undefined };
  'batch:start': LoopPosition & { readonly batch: number; readonly size: number };
  /** One batch went forward and backward. Its metrics are lazy: read back only when you read them. */
  'batch:end': LoopPosition & { readonly batch: number; readonly size: number; readonly metrics: LazyMetrics<M> };
  /** One optimizer update was applied (after `accumulateBatches` batches). */
  'step:end': LoopPosition & {
    /** Each learning-rate modifier's factor in this update (`learningRate` = base schedule × these). */
    readonly learningRateFactors: Readonly<Record<string, number>>;
    readonly batch: number;
    /** Samples that contributed to this update. */
    readonly samples: number;
    /** `true` when a gradient transform skipped the update (the step still counts). */
    readonly skipped: boolean;
    /** Metrics of the step's last batch (lazy). */
    readonly metrics: LazyMetrics<M>;
  };
  /** Validation is about to run (inference mode): save what it must not disturb, e.g. stateful RNN state. */
  'validation:start': LoopPosition & { readonly batchesPerEpoch: number | undefined };
  'validation:end': LoopPosition & { readonly samples: number; readonly metrics: ValidationLogs<M> };
  /** Epoch aggregates, computed on the device and read back once. */
  'epoch:end': LoopPosition & {
    /** Each learning-rate modifier's factor in the epoch's last update. */
    readonly learningRateFactors: Readonly<Record<string, number>>;
    readonly samples: number;
    readonly batches: number;
    readonly durationMs: number;
    readonly metrics: EpochLogs<M>;
  };
  'checkpoint:saved': LoopPosition & { readonly path: string; readonly batch: number; readonly reason: string };
  'fit:end': LoopPosition & {
    readonly reason: FitEndReason;
    /** The reason given to `control.stop(reason)`, when stopped. */
    readonly stopReason: string | undefined;
    /** The error that failed the fit (reason `'error'`), as plain data. */
    readonly error: SerializedError | undefined;
    readonly history: History<M>;
  };
}

/** Event names. */
export type TrainerEventType = keyof TrainerEventMap;

/** The events the core trainer itself publishes; plugins cannot emit these. */
export const CORE_EVENT_TYPES = [
  'backend:selected',
  'fit:start',
  'epoch:start',
  'batch:start',
  'batch:end',
  'step:end',
  'validation:start',
  'validation:end',
  'epoch:end',
  'checkpoint:saved',
  'fit:end',
] as const satisfies readonly TrainerEventType[];

/** Event types added by plugin packages through module augmentation. */
export type PluginEventType = Exclude<TrainerEventType, (typeof CORE_EVENT_TYPES)[number]>;

/** One event: a discriminated union on `type`, built from {@link TrainerEventMap}. */
export type TrainerEvent<M extends string = string> = {
  [K in keyof TrainerEventMap<M>]: { readonly type: K; /** `Date.now()` at emission. */ readonly time: number } & TrainerEventMap<M>[K];
}[keyof TrainerEventMap<M>];

/** The event of one type. */
export type EventOf<K extends TrainerEventType, M extends string = string> = Extract<TrainerEvent<M>, { type: K }>;

/**
 * Keeps events of the given types and narrows their type.
 *
 * @example
 * ```ts
 * trainer.events$.pipe(ofType('epoch:end')).subscribe((e) => console.log(e.epoch, e.metrics.loss));
 * ```
 */
export function ofType<M extends string, K extends TrainerEventType>(
  ...types: [K, ...K[]]
): OperatorFunction<TrainerEvent<M>, EventOf<K, M>> {
  const wanted = new Set<string>(types);
  return filter((e: TrainerEvent<M>): e is EventOf<K, M> => wanted.has(e.type));
}
