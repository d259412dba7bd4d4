import type { EventOf, FitEndReason } from '@fitstream/core';

/** Why the learning rate changed. */
export type LearningRateChangeReason = 'plateau' | 'spike-rollback';

/** What the loss-spike guard did about a spike. */
export type SpikeAction = 'log' | 'skip' | 'rollback';

/** The events this package publishes, by type: the one list of its event types (merged into core's `TrainerEventMap`). */
export interface PolicyEvents {
  /** Early stopping stopped the fit: `monitor` did not improve for `patience` epochs. */
  'earlyStopping:stopped': {
    readonly epoch: number;
    readonly step: number;
    readonly monitor: string;
    readonly value: number;
    readonly best: number;
    readonly bestEpoch: number;
    readonly wait: number;
  };
  /** Early stopping wrote the best weights back at the end of the fit (whatever ended it). */
  'earlyStopping:restored': {
    readonly monitor: string;
    readonly best: number;
    readonly bestEpoch: number;
    readonly reason: FitEndReason;
  };
  /**
   * A learning-rate modifier changed its factor (a plateau reduction, a spike back-off); `learningRate` is the new rate
   * as the plugin computed it from `previous` (the next update's rate also follows the base schedule). Schedules do not
   * publish it: every step and epoch event carries the rate and each modifier's factor.
   */
  'learningRate:changed': {
    /** The epoch the new rate applies to. */
    readonly epoch: number;
    /** The first optimizer step (0-based, as `step:end`'s `step` counts completed steps) the new rate applies to. */
    readonly step: number;
    readonly previous: number;
    readonly learningRate: number;
    readonly by: string;
    readonly reason: LearningRateChangeReason;
  };
  /** `terminateOnNaN` saw a non-finite loss and stopped the fit. */
  'terminateOnNaN:stopped': {
    readonly epoch: number;
    readonly step: number;
    readonly batch: number;
    /** The non-finite loss of the batch that was checked. */
    readonly loss: number;
    /** Batches with a non-finite loss since the last check (1 when checking every batch). */
    readonly nonFiniteBatches: number;
  };
  /** The loss-spike guard saw a batch loss far above the recent median. */
  'lossSpikeGuard:detected': {
    readonly epoch: number;
    readonly step: number;
    readonly batch: number;
    readonly loss: number;
    readonly median: number;
    readonly mad: number;
    /** Robust z-score: `(loss - median) / (1.4826 · MAD)`. */
    readonly score: number;
    readonly action: SpikeAction;
    readonly consecutive: number;
  };
  /** The time budget ran out; the fit stops after this step or epoch. */
  'timeBudget:expired': {
    readonly epoch: number;
    readonly step: number;
    readonly elapsedMs: number;
    readonly budgetMs: number;
    readonly checkpointRequested: boolean;
  };
}

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type
  interface TrainerEventMap<M extends string = string> extends PolicyEvents {}
}

/** The event names this package adds to core's `TrainerEventMap`. */
export type PolicyEventType = keyof PolicyEvents;

/** One event of this package, as it appears on a plugin's own `events$` and (with core's `control.emit`) on `trainer.events$`. */
export type PolicyEvent<K extends PolicyEventType = PolicyEventType> = EventOf<K>;
