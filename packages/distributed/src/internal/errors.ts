/** Why a peer counts as lost. */
export type PeerLostReason = 'exited' | 'heartbeat' | 'timeout' | 'aborted';

/**
 * A peer replica died, hung or aborted, so the collective this replica was in can never complete. Every surviving
 * replica's collectives throw it instead of hanging: at once when a peer's thread or process ends, within
 * `heartbeatTimeoutMs` when an MPI peer falls silent, within the collective `timeoutMs` when a live peer is stuck.
 * Restart the group (the launcher's `maxRestarts`) and resume from the last checkpoint.
 *
 * @example
 * ```ts
 * try {
 *   await trainer.fit(data, { epochs: 10 });
 * } catch (error) {
 *   if (error instanceof PeerLostError) console.error(`lost ${error.lostRanks.join(', ')} (${error.reason})`);
 *   throw error; // the launcher restarts the group
 * }
 * ```
 */
export class PeerLostError extends Error {
  override readonly name = 'PeerLostError';
  /**
   * The ranks lost: on threads the ranks that exited, aborted or did not answer; on MPI the rank whose heartbeat
   * stopped or that aborted, or after a collective timeout every peer (a blocking MPI collective cannot say which rank
   * it waits for).
   */
  readonly lostRanks: readonly number[];
  /**
   * `'exited'`: a peer's thread or process ended (threads: the launcher saw it exit; MPI: its heartbeat connection
   * closed without a goodbye). `'heartbeat'`: an MPI peer sent no heartbeat for `heartbeatTimeoutMs` (its machine went
   * down, it froze, or the network is cut). `'timeout'`: a collective did not complete within `timeoutMs` though every
   * peer was alive (a peer is stuck). `'aborted'`: a peer called `abort`.
   */
  readonly reason: PeerLostReason;
  constructor(message: string, options: { readonly lostRanks?: readonly number[]; readonly reason: PeerLostReason }) {
    super(message);
    this.lostRanks = options.lostRanks ?? [];
    this.reason = options.reason;
  }
}

/** The MPI library could not be loaded or initialised (MPI absent, a library that does not match the launcher, a world mismatch). */
export class MpiUnavailableError extends Error {
  override readonly name = 'MpiUnavailableError';
}

/** A distributed setting is wrong: a world size without an engine, a rank out of range, models that differ across ranks. */
export class DistributedConfigError extends Error {
  override readonly name = 'DistributedConfigError';
}
