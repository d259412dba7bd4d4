import { PeerLostError, type PeerLostReason } from '../errors.js';
import { describe, type Communicator, type ReduceOp } from './communicator.js';
import { DEFAULT_TIMEOUT_MS, checkTimeoutMs } from './timeouts.js';

/**
 * The shared memory of one group of worker-thread replicas, made by the launcher and passed to every worker in
 * `workerData`. Each rank has a slot; reductions write into `result`. Pages of a `SharedArrayBuffer` are committed only
 * when touched, so a generous capacity costs address space, not memory.
 */
export interface ThreadGroup {
  readonly size: number;
  /** Floats per slot: collectives on longer arrays run in chunks of this many values. */
  readonly capacity: number;
  /** The collective timeout of the group's replicas (default 30 min): it catches a live replica that is stuck. */
  readonly timeoutMs: number;
  readonly control: SharedArrayBuffer;
  readonly message: SharedArrayBuffer;
  readonly slots: readonly SharedArrayBuffer[];
  readonly result: SharedArrayBuffer;
  /**
   * Floats per rank and half of {@link fast}: all-reduces of at most this many values (and `size` × this many in all)
   * take the one-barrier path. Absent in groups made before it existed: then every all-reduce takes two barriers.
   */
  readonly fastCapacity?: number;
  /** Per rank, two halves of `fastCapacity` floats, used alternately by one-barrier all-reduces. */
  readonly fast?: SharedArrayBuffer;
}

// Control words (Int32).
const COUNT = 0; // ranks arrived at the current barrier
const GEN = 1; // barrier generation: waiters sleep on it
const ABORT = 2; // 0, or the reason code once the group failed
const ABORT_RANK = 3; // the rank blamed (-1 unknown)
const ABORT_LOCK = 4; // first writer of the failure wins
const MESSAGE_LENGTH = 5;
const ARRIVED = 8; // ARRIVED + r: the last generation rank r reached; ARRIVED + size + r: 1 when rank r is lost
const REASONS: readonly PeerLostReason[] = ['exited', 'timeout', 'aborted', 'heartbeat'];
/**
 * All-reduces that read at most this many values in all (length × ranks) take one barrier instead of two: every rank
 * reads every rank's copy, which costs less than the second barrier's wake-up for the small and middle-sized buffers
 * of a training step (a model's gradients, the stop flag, epoch metrics) — replicas meet once per collective.
 */
const FAST_REDUCE_VALUES = 2 ** 18;

/** Allocates a group's shared memory (in the launching thread). */
export function createThreadGroup(size: number, options: { readonly bufferBytes?: number; readonly timeoutMs?: number } = {}): ThreadGroup {
  const capacity = Math.max(1024, Math.floor((options.bufferBytes ?? 32 * 2 ** 20) / 4));
  const fastCapacity = Math.min(capacity, Math.floor(FAST_REDUCE_VALUES / size));
  return {
    fastCapacity,
    fast: new SharedArrayBuffer(4 * 2 * size * fastCapacity),
    size,
    capacity,
    timeoutMs: options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : checkTimeoutMs(options.timeoutMs),
    control: new SharedArrayBuffer(4 * (ARRIVED + 2 * size)),
    message: new SharedArrayBuffer(4096),
    slots: Array.from({ length: size }, () => new SharedArrayBuffer(4 * capacity)),
    result: new SharedArrayBuffer(4 * capacity),
  };
}

/**
 * Marks the group failed (first caller wins) and wakes every waiting rank. Safe from any thread. `rank` is the rank
 * blamed; `lost` every rank known to be lost (default `[rank]`), which the launcher ends at once when they hung.
 */
export function failThreadGroup(group: ThreadGroup, reason: PeerLostReason, rank: number, text: string, lost: readonly number[] = rank >= 0 ? [rank] : []): void {
  const control = new Int32Array(group.control);
  if (Atomics.compareExchange(control, ABORT_LOCK, 0, 1) !== 0) return;
  for (const r of lost) if (r >= 0 && r < group.size) Atomics.store(control, ARRIVED + group.size + r, 1);
  const bytes = new TextEncoder().encode(text).subarray(0, group.message.byteLength);
  new Uint8Array(group.message).set(bytes);
  Atomics.store(control, MESSAGE_LENGTH, bytes.length);
  Atomics.store(control, ABORT_RANK, rank);
  Atomics.store(control, ABORT, REASONS.indexOf(reason) + 1);
  Atomics.notify(control, GEN);
}

/** The group's failure, if any: its reason, the rank blamed, every rank known lost, and the message. */
export function threadGroupFailure(group: ThreadGroup): { reason: PeerLostReason; rank: number; lost: number[]; text: string } | undefined {
  const control = new Int32Array(group.control);
  const code = Atomics.load(control, ABORT);
  if (code === 0) return undefined;
  const length = Atomics.load(control, MESSAGE_LENGTH);
  const text = new TextDecoder().decode(new Uint8Array(group.message).slice(0, length));
  const lost: number[] = [];
  for (let r = 0; r < group.size; r++) if (Atomics.load(control, ARRIVED + group.size + r) === 1) lost.push(r);
  return { reason: REASONS[code - 1] ?? 'aborted', rank: Atomics.load(control, ABORT_RANK), lost, text };
}

/**
 * The `threads` engine: ranks are worker threads of one process and exchange nothing but `Atomics` signals. It needs no
 * heartbeat: a replica that exits or throws is seen at once by the thread that started it (the launcher's worker
 * `'exit'` event), which fails the group with `failThreadGroup`; a replica that is alive but stuck (a busy loop, a
 * wait that never ends) cannot be told from one in a long computation, and is caught by the collective timeout. An
 * all-reduce copies each rank's chunk into its slot, every rank sums its 1/N slice over all slots in rank order (a fixed
 * order, so results are reproducible for a given world size) into `result`, and every rank copies `result` out: two
 * barriers per chunk, no message copies.
 */
export class ThreadsCommunicator implements Communicator {
  readonly backend = 'threads' as const;
  readonly size: number;
  readonly timeoutMs: number;
  private readonly control: Int32Array;
  private readonly slots: Float32Array[];
  private readonly result: Float32Array;
  private readonly capacity: number;
  /** `fastViews[half][rank]`: the one-barrier all-reduce's buffers. */
  private readonly fastViews: readonly (readonly Float32Array[])[];
  private readonly fastCapacity: number;
  private fastOps = 0;
  private op = 0;
  private closed = false;

  constructor(
    private readonly group: ThreadGroup,
    readonly rank: number,
    options: { readonly timeoutMs?: number } = {},
  ) {
    this.size = group.size;
    this.timeoutMs = options.timeoutMs === undefined ? group.timeoutMs : checkTimeoutMs(options.timeoutMs);
    this.control = new Int32Array(group.control);
    this.slots = group.slots.map((s) => new Float32Array(s));
    this.result = new Float32Array(group.result);
    this.capacity = group.capacity;
    const fast = group.fast;
    this.fastCapacity = fast ? (group.fastCapacity ?? 0) : 0;
    this.fastViews = [0, 1].map((half) => Array.from({ length: this.size }, (_, r) => (fast ? new Float32Array(fast, 4 * (2 * r + half) * this.fastCapacity, this.fastCapacity) : new Float32Array(0))));
  }

  allreduce(buf: Float32Array, op: ReduceOp = 'sum'): Float32Array {
    const what = this.begin('allreduce');
    const n = buf.length;
    if (this.size === 1) return buf;
    const size = this.size;
    if (n <= this.fastCapacity) {
      // One barrier: each rank publishes its values in its half for this operation, then reduces all of them itself,
      // in rank order (the same sums as the two-barrier path). Halves alternate, so a rank already in the next
      // operation never overwrites values a slower peer is still reading: it cannot pass that operation's barrier
      // before the peer has read them.
      const views = this.fastViews[this.fastOps++ % 2]!;
      views[this.rank]!.set(buf);
      this.sync(what);
      reduceSlice(views, buf, 0, n, op);
      return buf;
    }
    const mine = this.slots[this.rank]!;
    const res = this.result;
    for (let c0 = 0; c0 < n; c0 += this.capacity) {
      const len = Math.min(this.capacity, n - c0);
      mine.set(buf.subarray(c0, c0 + len));
      this.sync(what);
      const lo = Math.floor((len * this.rank) / size);
      const hi = Math.floor((len * (this.rank + 1)) / size);
      reduceSlice(this.slots, res, lo, hi, op);
      this.sync(what);
      buf.set(res.subarray(0, len), c0);
    }
    return buf;
  }

  broadcast(buf: Float32Array, root = 0): Float32Array {
    const what = this.begin('broadcast');
    this.checkRank(root, 'root');
    if (this.size === 1) return buf;
    const from = this.slots[root]!;
    for (let c0 = 0; c0 < buf.length; c0 += this.capacity) {
      const len = Math.min(this.capacity, buf.length - c0);
      if (this.rank === root) from.set(buf.subarray(c0, c0 + len));
      this.sync(what);
      if (this.rank !== root) buf.set(from.subarray(0, len), c0);
      this.sync(what);
    }
    return buf;
  }

  allgather(buf: Float32Array): Float32Array {
    const what = this.begin('allgather');
    const n = buf.length;
    const out = new Float32Array(n * this.size);
    if (this.size === 1) {
      out.set(buf);
      return out;
    }
    for (let c0 = 0; c0 < n; c0 += this.capacity) {
      const len = Math.min(this.capacity, n - c0);
      this.slots[this.rank]!.set(buf.subarray(c0, c0 + len));
      this.sync(what);
      for (let r = 0; r < this.size; r++) out.set(this.slots[r]!.subarray(0, len), r * n + c0);
      this.sync(what);
    }
    return out;
  }

  barrier(): void {
    const what = this.begin('barrier');
    if (this.size > 1) this.sync(what);
  }

  alloc(length: number): Float32Array {
    return new Float32Array(length);
  }

  abort(reason?: unknown): void {
    failThreadGroup(this.group, 'aborted', this.rank, `rank ${this.rank} aborted: ${describe(reason ?? 'abort() called')}`);
  }

  close(): void {
    this.closed = true;
  }

  private begin(name: string): string {
    if (this.closed) throw new Error(`${name}: this communicator is closed.`);
    this.op += 1;
    const failure = threadGroupFailure(this.group);
    if (failure) throw this.lost(`${name} #${this.op}`, failure);
    return `${name} #${this.op}`;
  }

  private checkRank(root: number, name: string): void {
    if (!Number.isInteger(root) || root < 0 || root >= this.size) throw new RangeError(`${name} must be a rank in [0, ${this.size - 1}], got ${String(root)}.`);
  }

  private lost(what: string, failure: { reason: PeerLostReason; rank: number; lost: readonly number[]; text: string }): PeerLostError {
    const lostRanks = failure.lost.filter((r) => r !== this.rank);
    return new PeerLostError(`rank ${this.rank} lost its group in ${what}: ${failure.text}`, { lostRanks, reason: failure.reason });
  }

  /** A sense-counting barrier on `GEN`, woken early by a failure; throws `PeerLostError` on failure or timeout. */
  private sync(what: string): void {
    const control = this.control;
    const gen = Atomics.load(control, GEN);
    Atomics.store(control, ARRIVED + this.rank, gen + 1);
    if (Atomics.add(control, COUNT, 1) === this.size - 1) {
      Atomics.store(control, COUNT, 0);
      Atomics.add(control, GEN, 1);
      Atomics.notify(control, GEN);
      return;
    }
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      // A short spin first: a peer that is about to arrive wakes us faster than a futex round trip.
      for (let i = 0; i < 200 && Atomics.load(control, GEN) === gen && Atomics.load(control, ABORT) === 0; i++);
      if (Atomics.load(control, GEN) !== gen) return;
      const failure = threadGroupFailure(this.group);
      if (failure) throw this.lost(what, failure);
      const left = deadline - performance.now();
      if (left <= 0) {
        const missing: number[] = [];
        for (let r = 0; r < this.size; r++) if (Atomics.load(control, ARRIVED + r) !== gen + 1) missing.push(r);
        const text = `no answer from rank${missing.length === 1 ? '' : 's'} ${missing.join(', ')} within ${this.timeoutMs} ms (seen by rank ${this.rank} in ${what}); a peer is dead or hung`;
        failThreadGroup(this.group, 'timeout', missing[0] ?? -1, text, missing);
        throw new PeerLostError(`rank ${this.rank}: ${text}`, { lostRanks: missing, reason: 'timeout' });
      }
      Atomics.wait(control, GEN, gen, Math.min(left, 1000));
    }
  }
}

/** `res[lo:hi] = op over slots[r][lo:hi]`, summing in rank order in double precision. */
export function reduceSlice(slots: readonly Float32Array[], res: Float32Array, lo: number, hi: number, op: ReduceOp): void {
  const size = slots.length;
  if (op === 'max') {
    for (let i = lo; i < hi; i++) {
      let m = slots[0]![i]!;
      for (let r = 1; r < size; r++) m = Math.max(m, slots[r]![i]!);
      res[i] = m;
    }
    return;
  }
  if (size === 2) {
    const a = slots[0]!;
    const b = slots[1]!;
    if (op === 'avg') for (let i = lo; i < hi; i++) res[i] = (a[i]! + b[i]!) / 2;
    else for (let i = lo; i < hi; i++) res[i] = a[i]! + b[i]!;
    return;
  }
  for (let i = lo; i < hi; i++) {
    let s = 0;
    for (let r = 0; r < size; r++) s += slots[r]![i]!;
    res[i] = op === 'avg' ? s / size : s;
  }
}
