import type { EventOf, FitEndReason } from '@fitstream/core';

/** The events this package publishes, by type: the one list of its event types (merged into core's `TrainerEventMap`). */
export interface AveragingEvents {
  /** `ema` wrote the averaged weights into the model as the fit ended (`finalize`). */
  'ema:finalized': {
    readonly epoch: number;
    readonly step: number;
    /** EMA updates folded into the average during the fit. */
    readonly updates: number;
    readonly reason: FitEndReason;
  };
  /** `swa` averaged its first model: the weights at the end of `epoch`. */
  'swa:started': {
    readonly epoch: number;
    readonly step: number;
    /** The first averaged epoch as resolved from the `start` option. */
    readonly startEpoch: number;
  };
  /** `swa` wrote the average into the model as the fit ended and recomputed the batch-norm statistics. */
  'swa:finalized': {
    readonly epoch: number;
    readonly step: number;
    /** Models (epoch ends) in the average. */
    readonly models: number;
    /** Batch-normalization layers whose moving statistics were recomputed over `batchNormData`. */
    readonly batchNormLayers: readonly string[];
    readonly reason: FitEndReason;
  };
}

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type
  interface TrainerEventMap<M extends string = string> extends AveragingEvents {}
}

/** The event names weight averaging adds to core's `TrainerEventMap`. */
export type AveragingEventType = keyof AveragingEvents;

/** One weight-averaging event, as it appears on the plugin's own `events$` and on `trainer.events$`. */
export type AveragingEvent<K extends AveragingEventType = AveragingEventType> = EventOf<K>;
