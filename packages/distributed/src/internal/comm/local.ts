import type { Communicator, ReduceOp } from './communicator.js';

/** A world of one replica: every collective is the identity. What `init()` returns outside any launcher. */
export class LocalCommunicator implements Communicator {
  readonly backend = 'local' as const;
  readonly rank = 0;
  readonly size = 1;
  readonly timeoutMs = Number.POSITIVE_INFINITY;
  private closed = false;

  allreduce(buf: Float32Array, _op: ReduceOp = 'sum'): Float32Array {
    this.check('allreduce');
    return buf;
  }
  broadcast(buf: Float32Array, root = 0): Float32Array {
    this.check('broadcast');
    if (root !== 0) throw new RangeError(`root must be a rank in [0, 0], got ${String(root)}.`);
    return buf;
  }
  allgather(buf: Float32Array): Float32Array {
    this.check('allgather');
    return Float32Array.from(buf);
  }
  barrier(): void {
    this.check('barrier');
  }
  alloc(length: number): Float32Array {
    return new Float32Array(length);
  }
  abort(reason?: unknown): void {
    this.closed = true;
    void reason;
  }
  close(): void {
    this.closed = true;
  }
  private check(name: string): void {
    if (this.closed) throw new Error(`${name}: this communicator is closed.`);
  }
}
