import type { Communicator } from '../internal/comm/communicator.js';

/** What one rank found; `digests` must be equal on every rank. */
export interface ConformanceReport {
  readonly rank: number;
  readonly size: number;
  readonly backend: string;
  readonly failures: string[];
  readonly checks: number;
  readonly digests: number[];
}

/** FNV-1a over the bytes: equal digests = bitwise-equal results. */
function digest(a: Float32Array): number {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

/** Integers, so sums are exact in any order (MPI does not fix the order). */
const ints = (n: number, rank: number, salt: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7 + rank * 13 + salt * 5) % 101) - 50);

/** Deterministic pseudo-random floats per (rank, salt). */
function floats(n: number, rank: number, salt: number): Float32Array {
  let s = (rank * 7919 + salt * 104729 + 1) >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/**
 * The checks every engine must pass: all-reduce (sum, avg, max) of lengths 0, 1, size−1, odd and large, against a
 * reference computed locally; broadcast from every root; allgather; barriers; back-to-back operations on one buffer
 * (a collective must not see the next one's data); and digests of every result, compared across ranks by the caller.
 */
export function runConformance(comm: Communicator, options: { readonly large?: number } = {}): ConformanceReport {
  const { rank, size } = comm;
  const failures: string[] = [];
  const digests: number[] = [];
  let checks = 0;
  const expect = (ok: boolean, what: string) => {
    checks += 1;
    if (!ok && failures.length < 20) failures.push(what);
  };
  const large = options.large ?? 300_007;
  const lengths = [...new Set([0, 1, Math.max(0, size - 1), 7, 1001, large])];

  for (const n of lengths) {
    // sum, exact
    const got = comm.allreduce(ints(n, rank, 1), 'sum');
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) {
      let want = 0;
      for (let r = 0; r < size; r++) want += ((i * 7 + r * 13 + 5) % 101) - 50;
      if (got[i] !== want) bad = i;
    }
    expect(bad < 0 && got.length === n, `allreduce sum n=${n}: first mismatch at ${bad}`);
    digests.push(digest(got));
    // avg of floats, within float error
    const avg = comm.allreduce(floats(n, rank, 2), 'avg');
    const refs = Array.from({ length: size }, (_, r) => floats(n, r, 2));
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let want = 0;
      for (const ref of refs) want += ref[i]!;
      want /= size;
      worst = Math.max(worst, Math.abs(avg[i]! - want));
    }
    expect(worst <= 1e-6, `allreduce avg n=${n}: max error ${worst}`);
    digests.push(digest(avg));
    // max
    const max = comm.allreduce(floats(n, rank, 3), 'max');
    const maxRefs = Array.from({ length: size }, (_, r) => floats(n, r, 3));
    let maxOk = true;
    for (let i = 0; i < n && maxOk; i++) maxOk = max[i] === Math.max(...maxRefs.map((ref) => ref[i]!));
    expect(maxOk, `allreduce max n=${n}`);
    digests.push(digest(max));
  }

  // Back-to-back on one buffer and on fresh ones: no operation may see another's data.
  const shared = comm.alloc(513);
  for (let k = 0; k < 25; k++) {
    const buf = k % 2 === 0 ? shared : new Float32Array(513);
    for (let i = 0; i < buf.length; i++) buf[i] = k * 1000 + rank + i;
    comm.allreduce(buf, 'sum');
    let ok = true;
    for (let i = 0; i < buf.length && ok; i++) ok = buf[i] === size * (k * 1000 + i) + (size * (size - 1)) / 2;
    expect(ok, `back-to-back allreduce #${k}`);
  }

  for (let root = 0; root < size; root++) {
    for (const n of [0, 1, 7, large]) {
      const buf = rank === root ? floats(n, root, 4) : new Float32Array(n).fill(-1);
      comm.broadcast(buf, root);
      expect(digest(buf) === digest(floats(n, root, 4)), `broadcast root=${root} n=${n}`);
    }
  }

  for (const n of [0, 1, 5, Math.floor(large / 4) + 1]) {
    const all = comm.allgather(floats(n, rank, 5));
    let ok = all.length === n * size;
    for (let r = 0; r < size && ok; r++) ok = digest(all.subarray(r * n, (r + 1) * n)) === digest(floats(n, r, 5));
    expect(ok, `allgather n=${n}`);
    digests.push(digest(all));
  }

  for (let k = 0; k < 10; k++) comm.barrier();
  expect(true, 'barriers');
  // Mixed kinds back to back.
  for (let k = 0; k < 10; k++) {
    const a = comm.allreduce(Float32Array.of(rank, k), 'sum');
    const b = comm.broadcast(Float32Array.of(rank + k), k % size);
    const c = comm.allgather(Float32Array.of(rank * 10 + k));
    expect(a[0] === (size * (size - 1)) / 2 && a[1] === size * k && b[0] === (k % size) + k && c.every((v, r) => v === r * 10 + k), `mixed sequence #${k}`);
  }
  return { rank, size, backend: comm.backend, failures, checks, digests };
}
