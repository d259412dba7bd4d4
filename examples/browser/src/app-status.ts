/**
 * What the page tells a test (and a curious reader in the console) about its run: `window.__fitstream`, updated as
 * training goes. The Chromium test waits on `phase`, reloads the page after a backup, and compares `checksum` and
 * `history` between runs.
 */

/** One completed epoch, as the page shows it. */
export interface EpochRow {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly valLoss: number;
  readonly valAccuracy: number;
}

/** The page's run, as far as it has got. */
export interface AppStatus {
  /** `idle` (waiting for a person), `starting` (backend, data), `training`, `done` or `error`. */
  phase: 'idle' | 'starting' | 'training' | 'done' | 'error';
  /** The tfjs backend in use and `selectBackend`'s line (with the reason for every fallback). */
  backend?: string;
  backendMessage?: string;
  seed?: number;
  epochs?: number;
  /** Samples on each side of the seeded, stratified split. */
  trainSamples?: number;
  validationSamples?: number;
  /** The run started from this backup (after a reload), at this epoch. */
  resumedFrom?: string;
  initialEpoch?: number;
  /** Epochs and optimizer steps completed so far, over the whole run (a resumed run counts from its backup). */
  epoch: number;
  step: number;
  /** For each backup that reached IndexedDB in this page's life (`backupAndRestore:saved`), the epochs it completes. */
  backups: number[];
  /** The completed epochs: those of this page's life while training, the whole run's when done. */
  rows: EpochRow[];
  /** When done: the fit's history (every epoch of the run, resumed or not), why it ended, and the final weights. */
  history?: Record<string, readonly number[]>;
  endReason?: string;
  stopReason?: string | undefined;
  checksum?: { readonly sha256: string; readonly sum: number };
  /** Accuracy of the final weights on the validation side (after early stopping restored the best ones). */
  validationAccuracy?: number;
  /** Confusion matrix of the final weights on the validation side: rows true class, columns predicted. */
  confusion?: number[][];
  /** Optimizer steps per second of wall time in this page (validation and backups included). */
  stepsPerSecond?: number;
  /** Milliseconds this page spent in `trainer.fit`. */
  fitMs?: number;
  error?: string;
}

declare global {
  interface Window {
    __fitstream: AppStatus;
  }
}

/** The page's status object, created on first use and published as `window.__fitstream`. */
export function appStatus(): AppStatus {
  window.__fitstream ??= { phase: 'idle', epoch: 0, step: 0, backups: [], rows: [] };
  return window.__fitstream;
}
