import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { PeerLostError, MpiUnavailableError, type PeerLostReason } from '../errors.js';
import { describe, type Communicator, type ReduceOp } from '../comm/communicator.js';
import { MPI_THREAD_SOURCE } from './mpi-thread-source.js';
import { Heartbeat, type HeartbeatLoss } from './heartbeat.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, checkHeartbeatTimeoutMs, checkTimeoutMs } from '../comm/timeouts.js';

/** Which MPI implementation's ABI to speak: their handles differ (Open MPI: addresses of globals; MPICH: integers). */
export type MpiFlavor = 'openmpi' | 'mpich';

/** Options of {@link MpiCommunicator.create}. */
export interface MpiOptions {
  /** Path or soname of the MPI library. Default: `FITSTREAM_MPI_LIBRARY`, else by flavor (`libmpi.so.40`, `libmpich.so.12`). */
  readonly library?: string;
  /** Default: from the launcher's environment (`OMPI_*` → Open MPI, `PMI_*`/`HYDRA_*` → MPICH), else Open MPI. */
  readonly flavor?: MpiFlavor;
  /**
   * Milliseconds a collective waits before it throws `PeerLostError` (default 1 800 000 = 30 min): it catches a peer that
   * is alive but stuck; dead and silent peers are caught by the launcher and the heartbeat.
   */
  readonly timeoutMs?: number;
  /**
   * Milliseconds an MPI peer may stay silent before it counts as lost (default 30 000; 0: no heartbeat). Rank 0's
   * value applies to the whole group. A peer whose process ends is seen at once (its heartbeat connection closes).
   */
  readonly heartbeatTimeoutMs?: number;
  /** After a `PeerLostError`, milliseconds before the job is aborted with `MPI_Abort` (default 2000). */
  readonly abortGraceMs?: number;
  /** The world size the launcher announced: MPI must agree, or a library/launcher mismatch ran N one-rank jobs. */
  readonly expectedSize?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

// Control words shared with the MPI thread.
const REQ = 0, DONE = 1, OP = 2, BUF = 3, OFFSET = 4, COUNT = 5, ROOT = 6, RESULT = 7, REDOP = 8, OUTBUF = 9, OUTOFFSET = 10, STATE = 11, RANK = 12, SIZE = 13, PROVIDED = 14, MSGLEN = 15; // prettier-ignore
const MSG = 64;
const OPS = { allreduce: 1, broadcast: 2, allgather: 3, barrier: 4, register: 5, finalize: 6 } as const;
const INSTALL_HINT =
  'Install an MPI implementation and start the replicas with its launcher: Debian/Ubuntu `apt-get install openmpi-bin libopenmpi-dev` (or `mpich`), ' +
  'then `mpirun -np N node train.js` or `launch({ backend: "mpi", … })`; or point FITSTREAM_MPI_LIBRARY at libmpi. On one machine without MPI use the threads backend.';

function defaultLibrary(flavor: MpiFlavor): string {
  return flavor === 'openmpi' ? 'libmpi.so.40' : 'libmpich.so.12';
}

export function detectFlavor(env: Readonly<Record<string, string | undefined>>): MpiFlavor {
  if (env.FITSTREAM_MPI_FLAVOR === 'mpich' || env.FITSTREAM_MPI_FLAVOR === 'openmpi') return env.FITSTREAM_MPI_FLAVOR;
  if (Object.keys(env).some((k) => k.startsWith('OMPI_'))) return 'openmpi';
  if (env.PMI_RANK !== undefined || Object.keys(env).some((k) => k.startsWith('HYDRA_'))) return 'mpich';
  return 'openmpi';
}

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => number; symbol(name: string): bigint; unload?(): void };
}

/** koffi's path and module, loaded on first use only: installing or importing this package never needs it. */
function loadKoffi(): { koffi: Koffi; path: string } {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve('koffi');
    return { koffi: require(path) as Koffi, path };
  } catch (error) {
    throw new MpiUnavailableError(`The MPI backend calls MPI through koffi, which could not be loaded (${describe(error)}). Reinstall @fitstream/distributed without --omit=optional (koffi's native binary is an optional dependency).`);
  }
}

/**
 * The `mpi` engine: MPI (Open MPI or MPICH, as the system has it) through koffi, with `MPI_Init_thread` at
 * `MPI_THREAD_MULTIPLE`. MPI calls run on a dedicated thread on shared memory, and a heartbeat on another (see
 * `heartbeatTimeoutMs`), so the replica's thread waits for a collective without ever hanging: a peer whose process
 * ends (its heartbeat connection closes) or falls silent for `heartbeatTimeoutMs` makes it throw `PeerLostError`
 * naming that rank, and a collective that outlasts `timeoutMs` while every peer beats (a peer alive but stuck) throws
 * too; either way the job is then aborted (`MPI_Abort`: MPI cannot shrink a job) for the launcher to restart. Where the
 * MPI launcher itself ends the job when a rank dies (`mpirun`'s default), that usually comes first. Summation order is
 * MPI's: results are identical on every rank, but not bitwise reproducible across world sizes or MPI builds.
 */
export class MpiCommunicator implements Communicator {
  readonly backend = 'mpi' as const;
  readonly rank: number;
  readonly size: number;
  readonly timeoutMs: number;
  /** The thread support MPI granted (3 = `MPI_THREAD_MULTIPLE`). */
  readonly threadLevel: number;
  private readonly control: Int32Array;
  private seq = 0;
  private op = 0;
  private nextBuffer = 1;
  private readonly buffers = new WeakMap<SharedArrayBuffer, number>();
  private scratch: { id: number; array: Float32Array } | undefined;
  private state: 'open' | 'broken' | 'closed' = 'open';
  private abortTimer: ReturnType<typeof setTimeout> | undefined;
  private lostWith: { readonly reason: PeerLostReason; readonly lostRanks: readonly number[] } | undefined;
  private heartbeat: Heartbeat | undefined;
  private readonly onExit = (code: number): void => {
    if (this.state === 'broken') this.abortNow(14);
    else if (this.state === 'open') {
      // A failing rank leaves without a goodbye: its peers see it end at once instead of waiting in a collective.
      if (code !== 0) this.heartbeat?.leave(false);
      this.close();
    }
  };

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    private readonly lib: { func(signature: string): (...args: unknown[]) => number; symbol(name: string): bigint },
    private readonly flavor: MpiFlavor,
    private readonly abortGraceMs: number,
    timeoutMs: number,
  ) {
    this.control = new Int32Array(control);
    this.rank = Atomics.load(this.control, RANK);
    this.size = Atomics.load(this.control, SIZE);
    this.threadLevel = Atomics.load(this.control, PROVIDED);
    this.timeoutMs = timeoutMs;
    process.once('exit', this.onExit);
  }

  /** Loads MPI lazily and initialises it on its own thread. Throws `MpiUnavailableError` naming the fix. */
  static async create(options: MpiOptions = {}): Promise<MpiCommunicator> {
    const env = options.env ?? process.env;
    const flavor = options.flavor ?? detectFlavor(env);
    const library = options.library ?? env.FITSTREAM_MPI_LIBRARY ?? defaultLibrary(flavor);
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : checkTimeoutMs(options.timeoutMs);
    const heartbeatTimeoutMs = options.heartbeatTimeoutMs === undefined ? DEFAULT_HEARTBEAT_TIMEOUT_MS : checkHeartbeatTimeoutMs(options.heartbeatTimeoutMs);
    const { koffi, path } = loadKoffi();
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(library);
    } catch (error) {
      throw new MpiUnavailableError(`Could not load the MPI library "${library}" (${flavor === 'openmpi' ? 'Open MPI' : 'MPICH'}): ${describe(error)}. ${INSTALL_HINT}`);
    }
    const control = new SharedArrayBuffer(4 * (MSG + 256));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(MPI_THREAD_SOURCE, { eval: true, workerData: { control, port: port2, library, flavor, koffiPath: path }, transferList: [port2] });
    worker.unref();
    port1.unref();
    const words = new Int32Array(control);
    const failure = new Promise<never>((_, reject) => {
      worker.once('error', (e) => reject(new MpiUnavailableError(`The MPI thread failed: ${describe(e)}`)));
    });
    const ready = (async () => {
      for (;;) {
        const state = Atomics.load(words, STATE);
        if (state === 1) return;
        if (state === -1) {
          const text = new TextDecoder().decode(new Uint8Array(control, 4 * MSG, Atomics.load(words, MSGLEN)).slice());
          throw new MpiUnavailableError(`MPI failed to start: ${text}. ${INSTALL_HINT}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await Promise.race([ready, failure]);
    const comm = new MpiCommunicator(worker, port1, control, lib, flavor, options.abortGraceMs ?? 2000, timeoutMs);
    if (options.expectedSize !== undefined && options.expectedSize !== comm.size) {
      comm.close();
      throw new MpiUnavailableError(
        `MPI reports a world of ${comm.size} but the launcher announced ${options.expectedSize}: the MPI library (${library}) does not belong to the launcher that started this process (e.g. MPICH's mpiexec with Open MPI's libmpi). Set FITSTREAM_MPI_LIBRARY / FITSTREAM_MPI_FLAVOR to match.`,
      );
    }
    try {
      comm.heartbeat = await Heartbeat.start(comm, { timeoutMs: heartbeatTimeoutMs, env, notify: control, notifyIndex: DONE });
    } catch (error) {
      // Rank 0's failure reached every rank through the broadcast, so all of them finalise; a rank that alone cannot
      // reach rank 0 takes the job down, since its peers are already on their way into the first collective.
      if (error instanceof Error && /^rank 0 could not listen|^FITSTREAM_HEARTBEAT_PORT/.test(error.message)) {
        comm.close();
        throw error;
      }
      comm.abort(error);
    }
    return comm;
  }

  allreduce(buf: Float32Array, op: ReduceOp = 'sum'): Float32Array {
    const what = this.begin('allreduce');
    if (buf.length === 0) return buf;
    const [id, offset, copied] = this.place(buf, 0);
    this.call(what, OPS.allreduce, { [BUF]: id, [OFFSET]: offset, [COUNT]: buf.length, [REDOP]: op === 'max' ? 2 : 1 });
    const target = copied ? this.scratch!.array.subarray(0, buf.length) : buf;
    if (op === 'avg') for (let i = 0; i < target.length; i++) target[i] = target[i]! / this.size;
    if (copied) buf.set(target);
    return buf;
  }

  broadcast(buf: Float32Array, root = 0): Float32Array {
    const what = this.begin('broadcast');
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new RangeError(`root must be a rank in [0, ${this.size - 1}], got ${String(root)}.`);
    if (buf.length === 0) return buf;
    const [id, offset, copied] = this.place(buf, 0);
    this.call(what, OPS.broadcast, { [BUF]: id, [OFFSET]: offset, [COUNT]: buf.length, [ROOT]: root });
    if (copied) buf.set(this.scratch!.array.subarray(0, buf.length));
    return buf;
  }

  allgather(buf: Float32Array): Float32Array {
    const what = this.begin('allgather');
    const n = buf.length;
    if (n === 0) return new Float32Array(0);
    // Input and output both in the scratch buffer: [input | output].
    const scratch = this.ensureScratch(n * (this.size + 1));
    scratch.array.set(buf);
    this.call(what, OPS.allgather, { [BUF]: scratch.id, [OFFSET]: 0, [COUNT]: n, [OUTBUF]: scratch.id, [OUTOFFSET]: n });
    return scratch.array.slice(n, n * (this.size + 1));
  }

  barrier(): void {
    const what = this.begin('barrier');
    this.call(what, OPS.barrier, {});
  }

  alloc(length: number): Float32Array {
    const sab = new SharedArrayBuffer(4 * length);
    this.register(sab);
    return new Float32Array(sab);
  }

  /** Ends the whole MPI job now (`MPI_Abort`): MPI cannot leave a group, so peers end with it. */
  abort(reason?: unknown): void {
    if (this.state === 'closed') return;
    writeSync(2, `fitstream: rank ${this.rank} aborts the MPI job: ${describe(reason ?? 'abort() called')}\n`);
    this.abortNow(13);
  }

  /** Milliseconds a silent peer is given before it counts as lost; 0 when there is no heartbeat (a world of one, or turned off). */
  get heartbeatTimeoutMs(): number {
    return this.heartbeat?.timeoutMs ?? 0;
  }

  close(): void {
    if (this.state !== 'open') {
      this.heartbeat?.leave(false);
      this.state = 'closed';
      return;
    }
    this.heartbeat?.leave(true);
    this.call('finalize', OPS.finalize, {}, 30_000);
    this.state = 'closed';
    process.removeListener('exit', this.onExit);
    this.port.close();
    void this.worker.terminate();
  }

  /**
   * The ranks a timeout may blame: every peer. A blocking MPI collective does not say which rank it is waiting for,
   * and a hung peer cannot be asked, so `lostRanks` lists the suspects rather than leaving them out.
   */
  private peers(): number[] {
    return Array.from({ length: this.size }, (_, r) => r).filter((r) => r !== this.rank);
  }

  private abortNow(code: number): never {
    const handle = this.flavor === 'openmpi' ? 'void *' : 'int';
    const abort = this.lib.func(`int MPI_Abort(${handle} comm, int code)`);
    abort(this.flavor === 'openmpi' ? this.lib.symbol('ompi_mpi_comm_world') : 0x44000000, code);
    process.exit(code); // not reached: MPI_Abort ends the process
  }

  private begin(name: string): string {
    if (this.state === 'closed') throw new Error(`${name}: this communicator is closed.`);
    if (this.state === 'broken') throw new PeerLostError(`rank ${this.rank}: ${name} after the group was lost; the MPI job is being aborted.`, { reason: this.lostWith?.reason ?? 'timeout', lostRanks: this.lostWith?.lostRanks ?? this.peers() });
    this.op += 1;
    const loss = this.heartbeat?.loss();
    if (loss) this.lose(`before ${name} #${this.op}`, loss);
    return `${name} #${this.op}`;
  }

  /** A peer the heartbeat found lost: the group is broken; the job is aborted after the grace period. */
  private lose(what: string, loss: HeartbeatLoss): never {
    const message = `rank ${this.rank} lost its group ${what}: ${loss.text}. Aborting the MPI job in ${this.abortGraceMs} ms (restart from the last checkpoint).`;
    this.fail(message, { reason: loss.reason, lostRanks: [loss.rank] });
  }

  private fail(message: string, options: { readonly reason: PeerLostReason; readonly lostRanks: readonly number[] }): never {
    this.state = 'broken';
    this.lostWith = options;
    writeSync(2, `PeerLostError: ${message}\n`);
    this.abortTimer = setTimeout(() => this.abortNow(14), this.abortGraceMs);
    this.abortTimer.unref();
    throw new PeerLostError(message, options);
  }

  /** Where the MPI thread finds `buf`: registered shared memory as is, anything else copied into the scratch buffer. */
  private place(buf: Float32Array, scratchOffset: number): [id: number, offset: number, copied: boolean] {
    const sab = buf.buffer;
    if (sab instanceof SharedArrayBuffer) {
      const id = this.buffers.get(sab);
      if (id !== undefined) return [id, buf.byteOffset / 4, false];
    }
    const scratch = this.ensureScratch(scratchOffset + buf.length);
    scratch.array.set(buf, scratchOffset);
    return [scratch.id, scratchOffset, true];
  }

  private ensureScratch(length: number): { id: number; array: Float32Array } {
    if (!this.scratch || this.scratch.array.length < length) {
      if (this.scratch) this.port.postMessage({ id: this.scratch.id });
      const sab = new SharedArrayBuffer(4 * Math.max(1024, 2 ** Math.ceil(Math.log2(length))));
      const id = this.register(sab);
      this.scratch = { id, array: new Float32Array(sab) };
    }
    return this.scratch;
  }

  private register(sab: SharedArrayBuffer): number {
    const id = this.nextBuffer++;
    this.buffers.set(sab, id);
    this.port.postMessage({ id, sab });
    this.call('register', OPS.register, {});
    return id;
  }

  private call(what: string, op: number, fields: Readonly<Record<number, number>>, timeoutMs = this.timeoutMs): void {
    const c = this.control;
    for (const [k, v] of Object.entries(fields)) c[Number(k)] = v;
    c[OP] = op;
    const seq = ++this.seq;
    Atomics.store(c, REQ, seq);
    Atomics.notify(c, REQ);
    const deadline = performance.now() + timeoutMs;
    while (Atomics.load(c, DONE) !== seq) {
      // The heartbeat thread wakes this wait (a notify on DONE) when it finds a peer lost.
      const loss = what === 'finalize' ? undefined : this.heartbeat?.loss();
      if (loss) this.lose(`in ${what}`, loss);
      const left = deadline - performance.now();
      if (left <= 0) {
        const suspects = `${this.size === 2 ? 'rank' : 'one of ranks'} ${this.peers().join(', ')}`;
        const who = this.heartbeat ? `though every peer's heartbeat is alive: ${suspects} is stuck, not dead` : `${suspects} is hung or dead`;
        const message = `rank ${this.rank}: ${what} did not complete within ${timeoutMs} ms ${who}${this.size === 2 ? '' : ' (MPI cannot tell which)'}. Aborting the MPI job in ${this.abortGraceMs} ms (restart from the last checkpoint).`;
        this.fail(message, { reason: 'timeout', lostRanks: this.peers() });
      }
      Atomics.wait(c, DONE, seq - 1, Math.min(left, 1000));
    }
    const rc = c[RESULT]!;
    if (rc !== 0) throw new Error(`rank ${this.rank}: MPI ${what} failed with error code ${rc}.`);
  }
}
