/** Reduction of {@link Communicator.allreduce}: `'avg'` is the sum divided by the world size. */
export type ReduceOp = 'sum' | 'avg' | 'max';

/** Which engine moves the data. */
export type BackendName = 'local' | 'threads' | 'mpi';

/**
 * One group of replicas (torch.distributed's ProcessGroup), behind which sit the engines: `threads` (worker threads of
 * one process, reducing through `SharedArrayBuffer` + `Atomics`), `mpi` (processes and machines, Open MPI or MPICH)
 * and `local` (a world of one).
 *
 * Collectives are **synchronous**: core's gradient transforms are synchronous, and each replica owns its thread or
 * process, so blocking is what a replica should do while it waits for its peers. No call hangs: a peer that dies or
 * aborts makes it throw {@link PeerLostError} at once (MPI: within `heartbeatTimeoutMs` for a peer that falls silent), a
 * peer that is alive but stuck after `timeoutMs`. Every rank must call the same
 * collectives in the same order with the same lengths. Results are bitwise identical on every rank.
 */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  readonly backend: BackendName;
  /** Milliseconds a collective waits for its peers before it throws `PeerLostError` (the collective timeout). */
  readonly timeoutMs: number;
  /** Reduces `buf` across ranks in place and returns it. */
  allreduce(buf: Float32Array, op?: ReduceOp): Float32Array;
  /** Copies `root`'s `buf` into every rank's `buf` (in place) and returns it. */
  broadcast(buf: Float32Array, root?: number): Float32Array;
  /** Every rank's `buf`, concatenated in rank order (`size × buf.length` values). */
  allgather(buf: Float32Array): Float32Array;
  /** Returns when every rank has called it. */
  barrier(): void;
  /**
   * A buffer the engine can use without copying (MPI: registered shared memory), for data reduced every step
   * (gradient buckets). Collectives accept any `Float32Array`; this one only saves copies.
   */
  alloc(length: number): Float32Array;
  /** Fails the group: every peer's pending and future collectives throw `PeerLostError` naming this rank and reason. */
  abort(reason?: unknown): void;
  /** Releases the engine (MPI: finalises). Collectives afterwards throw. */
  close(): void;
}

/** Describes an error for a message. */
export function describe(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  return String(reason);
}
