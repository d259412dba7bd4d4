/** Why a peer counts as lost. */
export type PeerLostReason = 'exited' | 'timeout' | 'aborted';

/**
 * A peer replica died, hung or aborted, so the collective this replica was in can never complete. Every surviving
 * replica's collectives throw it within the communicator's timeout — never a silent hang. Restart the group (the
 * launcher's `maxRestarts`) and resume from the last checkpoint.
 */
export class PeerLostError extends Error {
  override readonly name = 'PeerLostError';
  /**
   * The ranks lost: on threads the ranks that exited, aborted or did not answer; on MPI the aborting rank, or after a
   * timeout every peer (a blocking MPI collective cannot say which rank it waits for).
   */
  readonly lostRanks: readonly number[];
  /** `'exited'`: a peer's thread or process ended; `'timeout'`: no answer within the timeout; `'aborted'`: a peer called `abort`. */
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
