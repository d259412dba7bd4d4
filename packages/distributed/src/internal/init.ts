import { isMainThread, workerData } from 'node:worker_threads';
import { LocalCommunicator } from './comm/local.js';
import { ThreadsCommunicator, type ThreadGroup } from './comm/thread-group.js';
import type { BackendName, Communicator } from './comm/communicator.js';
import { detectEnvironment, type DistributedEnvironment } from './env/detect.js';
import { DistributedConfigError } from './errors.js';
import { checkHeartbeatTimeoutMs, checkTimeoutMs, timeoutsFromEnv } from './comm/timeouts.js';
import { MpiCommunicator, type MpiFlavor } from './mpi/mpi-communicator.js';

/** What the threads launcher hands each replica in `workerData`. */
export const THREADS_KEY = '__fitstreamDistributed';
export interface ThreadsWorkerData {
  readonly group: ThreadGroup;
  readonly rank: number;
}

/** Options of {@link init}. */
export interface InitOptions {
  /** Default `'auto'`: threads inside the threads launcher, MPI under an MPI launcher or `FITSTREAM_BACKEND=mpi`, otherwise a world of one. */
  readonly backend?: 'auto' | BackendName;
  /**
   * Collective timeout: milliseconds a collective waits for its peers before `PeerLostError` (default
   * `FITSTREAM_TIMEOUT_MS`, else 1 800 000 = 30 min). It catches a peer that is alive but stuck; keep it above the
   * longest legitimate wait (rank 0 writing a checkpoint or validating while the others wait).
   */
  readonly timeoutMs?: number;
  /**
   * MPI: milliseconds a peer may stay silent before it counts as lost (default `FITSTREAM_HEARTBEAT_TIMEOUT_MS`, else
   * 30 000; 0 turns the heartbeat off; rank 0's value applies to the group). A peer whose process ends is seen at once.
   * Threads need none: the launcher sees a replica exit at once.
   */
  readonly heartbeatTimeoutMs?: number;
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** MPI library path or soname (default `FITSTREAM_MPI_LIBRARY`, else `libmpi.so.40` / `libmpich.so.12`). */
  readonly mpiLibrary?: string;
  readonly mpiFlavor?: MpiFlavor;
}

/** One replica's view of the run: its coordinates, the communicator, and a rank-0 logger. */
export interface DistributedContext {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly nodeRank: number;
  readonly backend: BackendName;
  readonly comm: Communicator;
  /** `rank === 0`: the replica that logs, reports progress and writes checkpoints. */
  readonly isMain: boolean;
  /** How often the launcher restarted the group: resume from the last checkpoint when > 0. */
  readonly restartCount: number;
  readonly environment: DistributedEnvironment;
  /** Prints on rank 0 only, prefixed with the world. */
  log(message: string): void;
  /** Releases the communicator (MPI: `MPI_Finalize`). */
  close(): void;
}

function threadsData(): ThreadsWorkerData | undefined {
  if (isMainThread || typeof workerData !== 'object' || workerData === null) return undefined;
  return (workerData as Record<string, unknown>)[THREADS_KEY] as ThreadsWorkerData | undefined;
}

/**
 * Whether this thread or process is a replica: a worker thread of `launch({ backend: 'threads' })`, or a process
 * started by a launcher (`launch({ backend: 'mpi' })`, `mpirun`, `srun`, torchrun-style variables). A script that is
 * both launcher and replica asks this instead of `isMainThread`, which is also true in every MPI rank.
 *
 * @example
 * ```ts
 * if (!isReplica()) await launch({ script: new URL(import.meta.url), nprocPerNode: 2 });
 * else await train(await init());
 * ```
 */
export function isReplica(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return threadsData() !== undefined || detectEnvironment(env).source !== 'none';
}

/** Builds a context around an existing communicator (tests, custom engines). */
export function contextFor(comm: Communicator, environment: DistributedEnvironment = detectEnvironment({}), log: (line: string) => void = (line) => console.error(line)): DistributedContext {
  return {
    rank: comm.rank,
    worldSize: comm.size,
    localRank: comm.backend === 'threads' ? comm.rank : environment.localRank,
    localWorldSize: comm.backend === 'threads' ? comm.size : environment.localWorldSize,
    nodeRank: comm.backend === 'threads' ? 0 : environment.nodeRank,
    backend: comm.backend,
    comm,
    isMain: comm.rank === 0,
    restartCount: environment.restartCount,
    environment,
    log: (message) => {
      if (comm.rank === 0) log(`[fitstream/distributed ${comm.backend} ×${comm.size}] ${message}`);
    },
    close: () => comm.close(),
  };
}

/**
 * Joins the group this replica was started in and returns its context: inside `launch({ backend: 'threads' })` the
 * shared-memory group of the worker threads; under `mpirun`/`srun`/an MPI launcher (or `FITSTREAM_BACKEND=mpi`) MPI,
 * loaded only now; anywhere else a world of one, so the same script runs alone.
 *
 * @example
 * ```ts
 * const ctx = await init();
 * trainer.use(dataParallel(ctx));
 * ```
 */
export async function init(options: InitOptions = {}): Promise<DistributedContext> {
  const env = options.env ?? process.env;
  const environment = detectEnvironment(env);
  const fromEnv = timeoutsFromEnv(env);
  const timeoutMs = options.timeoutMs === undefined ? fromEnv.timeoutMs : checkTimeoutMs(options.timeoutMs);
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs === undefined ? fromEnv.heartbeatTimeoutMs : checkHeartbeatTimeoutMs(options.heartbeatTimeoutMs);
  const threads = threadsData();
  let backend = options.backend ?? 'auto';
  if (backend === 'auto') {
    if (threads) backend = 'threads';
    else if (environment.backend === 'mpi' || ['openmpi', 'mpich', 'slurm'].includes(environment.source)) backend = 'mpi';
    else if (environment.worldSize === 1) backend = 'local';
    else {
      throw new DistributedConfigError(
        `The environment (${environment.source}) announces a world of ${environment.worldSize}, but no engine joins it: start the replicas with an MPI launcher (mpirun/srun, or launch({ backend: 'mpi' })), or on one machine with launch({ backend: 'threads' }).`,
      );
    }
  }
  let comm: Communicator;
  if (backend === 'threads') {
    if (!threads) throw new DistributedConfigError("backend 'threads' works only inside a worker started by launch({ backend: 'threads' }).");
    comm = new ThreadsCommunicator(threads.group, threads.rank, timeoutMs === undefined ? {} : { timeoutMs });
  } else if (backend === 'mpi') {
    comm = await MpiCommunicator.create({
      env,
      expectedSize: environment.source === 'none' ? undefined : environment.worldSize,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs }),
      ...(options.mpiLibrary === undefined ? {} : { library: options.mpiLibrary }),
      ...(options.mpiFlavor === undefined ? {} : { flavor: options.mpiFlavor }),
    } as Parameters<typeof MpiCommunicator.create>[0]);
  } else {
    comm = new LocalCommunicator();
  }
  return contextFor(comm, environment);
}
