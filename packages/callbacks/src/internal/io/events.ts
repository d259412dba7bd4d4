// Event types this package's I/O callbacks publish on the trainer's stream with `control.emit`.

/** The events this package publishes, by type: the one list of its event types (merged into core's `TrainerEventMap`). */
export interface IoEvents {
  /** `modelCheckpoint` wrote a checkpoint (after `checkpoint:saved`, once `latest.json` and `best.json` are updated). */
  'modelCheckpoint:saved': {
    readonly epoch: number;
    readonly step: number;
    /** Batches of `epoch` already trained (0 at an epoch boundary). */
    readonly batch: number;
    readonly path: string;
    /** Why it was written: a new top-k value of the monitor, or the periodic schedule. */
    readonly reasons: readonly ('best' | 'periodic')[];
    readonly monitor: string | undefined;
    readonly value: number | undefined;
    /** Rank among the kept best checkpoints (0 = best), when saved as a best. */
    readonly rank: number | undefined;
  };
  /** `modelCheckpoint` deleted a checkpoint that fell out of the best-k or the last-k (after the new one was complete). */
  'modelCheckpoint:pruned': { readonly path: string; readonly epoch: number; readonly step: number; readonly value: number | undefined };
  /** `backupAndRestore` wrote its backup. */
  'backupAndRestore:saved': { readonly path: string; readonly epoch: number; readonly step: number; readonly batch: number; readonly reason: string };
  /** `backupAndRestore` resumed this fit from its backup. */
  'backupAndRestore:restored': { readonly path: string; readonly epoch: number; readonly step: number };
  /** `backupAndRestore` removed its backup because the fit completed. */
  'backupAndRestore:deleted': { readonly path: string };
}

declare module '@fitstream/core' {
  // Type parameters must match core's declaration exactly for the interfaces to merge.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-empty-object-type
  interface TrainerEventMap<M extends string = string> extends IoEvents {}
}

/** The event names this package's I/O callbacks add to core's `TrainerEventMap`. */
export type IoEventType = keyof IoEvents;
