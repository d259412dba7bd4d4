// What the fault tests' workers (resume-worker.ts) write: each rank's end state, and the error a lost peer raised.

/** A rank's report at the end of a run. */
export interface FaultReport {
  rank: number;
  restartCount: number;
  resumedFrom: string | null;
  step: number;
  weights: number[][];
  firstStepAt: number | null;
}

/** The error a rank recorded when its group was lost. */
export interface FaultErrorRecord {
  name: string;
  message: string;
  lostRanks: number[] | null;
  reason: string | null;
  at: number;
}
