import type { BackendFallback } from '@fitstream/backends';
import { filter, type OperatorFunction } from 'rxjs';
import type { LazyMetrics } from './lazy-metrics.js';
import type { EpochLogs, ValidationLogs } from './metric-names.js';

// BackendFallback (why a backend candidate was not used) is @fitstream/backends' type, re-exported here so that the
// `backend:selected` event and the core's index keep their names.
export type { BackendFallback };

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

// A record of readonly fields, alike in shape only to the CLI's run records (apps/cli/src/run/sections.ts): unrelated data.
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
 * The events core itself publishes, keyed by `type`: the one list of core event types ({@link CORE_EVENT_TYPES} is
 * checked against it by the compiler). `M` is the union of metric names, so `e.metrics.val_acuracy` fails to compile.
 */
export interface CoreEventMap<M extends string = string> {
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
  // Each event's payload is its own record; step:end and epoch:end look alike by design (both carry learningRateFactors, samples, metrics).
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
  // Alike in shape to step:end above by design: the epoch's aggregates, not one update's.
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

/**
 * Every event the trainer publishes, keyed by `type`: core's ({@link CoreEventMap}) and those plugin packages add
 * through module augmentation. Names follow one pattern, `<source>:<what happened>` in lower camel case: the source is
 * a core concept (`fit`, `epoch`, `step`…), a plugin factory (`earlyStopping`, `backupAndRestore`) or a package's family
 * (`regulariser`, `distributed`); no abbreviations, no hyphens (see docs/concepts/events.md).
 *
 * ```ts
 * declare module '@fitstream/core' {
 *   interface TrainerEventMap<M extends string = string> {
 *     'sampler:resampled': { readonly epoch: number; readonly size: number };
 *   }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface TrainerEventMap<M extends string = string> extends CoreEventMap<M> {}

/** Event names. */
export type TrainerEventType = keyof TrainerEventMap;

/** Core's event types (`keyof CoreEventMap`). */
export type CoreEventType = keyof CoreEventMap;

// The compiler checks this against CoreEventMap both ways (a missing key is an error, an extra one too), so the runtime
// list can never drift from the map: it exists only because types are gone at run time.
const coreEventTypes = {
  'backend:selected': true,
  'fit:start': true,
  'epoch:start': true,
  'batch:start': true,
  'batch:end': true,
  'step:end': true,
  'validation:start': true,
  'validation:end': true,
  'epoch:end': true,
  'checkpoint:saved': true,
  'fit:end': true,
} as const satisfies { readonly [K in CoreEventType]: true };

/** The events the core trainer itself publishes, derived from {@link CoreEventMap}; plugins cannot emit these. */
export const CORE_EVENT_TYPES = Object.freeze(Object.keys(coreEventTypes) as CoreEventType[]);

/** Event types added by plugin packages through module augmentation. */
export type PluginEventType = Exclude<TrainerEventType, CoreEventType>;

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
