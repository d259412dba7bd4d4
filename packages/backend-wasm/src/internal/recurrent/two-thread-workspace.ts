/**
 * What the LSTM's and the GRU's two-thread recurrences (lstm-two-threads.ts, gru-two-threads.ts) share: the chunk size,
 * the workspace layout in the own GEMM's shared memory, the gate module instantiated there, copies between tfjs' heap
 * and the shared memory, the parameters block, and the sum of the chunks' partial weight gradients.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { SharedGemm, SharedTaskModule } from '../gemm/two-thread-gemm.js';
import { gateModule, type GatePasses } from './gate-simd.js';
import type { RecurrentHeap } from './recurrent-heap.js';
import type { SequenceGeometry } from './sequence-kernel-frame.js';

/** Rows of the batch per chunk: a multiple of the GEMM's 4-row tiles, so no tile holds rows of two threads. */
export const ROWS_PER_CHUNK = 16;

/** Bytes read past an operand's end by the GEMM's packing (gemm-module.ts), kept inside the workspace. */
const SLACK_BYTES = 64;

/** What a two-thread recurrence needs before its task runs. */
export interface SequenceWorkspace<K extends string> {
  /** The gate passes on the shared memory. */
  readonly module: SharedTaskModule<GatePasses>;
  /** Byte offsets of the workspace's arrays. */
  readonly at: Record<K, number>;
  /** Chunks of {@link ROWS_PER_CHUNK} batch rows. */
  readonly chunks: number;
  /** 1 under `goBackwards`. */
  readonly reverse: 0 | 1;
  /** Byte offset just past the workspace (where a later task keeping this one's data starts its own). */
  readonly end: number;
}

/**
 * The gate module on the shared memory and a workspace for `floats(chunks)` (named array sizes, in floats); undefined
 * where the recurrence cannot run on two threads: no SIMD gate passes there, or a workspace too large (a very long or
 * wide sequence: the one-thread route then runs, and the own GEMM stays on for everything else).
 *
 * With `after` (the `end` of an earlier task's workspace whose data this task reads where it lies: the LSTM's
 * backward after its forward), the arrays start there, the earlier region and the copies deferred from it are kept.
 */
export function sequenceWorkspace<K extends string>(gemm: SharedGemm, g: SequenceGeometry, floats: (chunks: number) => Record<K, number>, after?: number): SequenceWorkspace<K> | undefined {
  const module = sharedGates(gemm, g);
  if (module === undefined) return undefined;
  const chunks = Math.ceil(g.batch / ROWS_PER_CHUNK);
  const keep = after !== undefined;
  const base = gemm.workspace(0, keep);
  const { at, bytes } = layout(after ?? base, floats(chunks));
  const total = (after ?? base) - base + bytes;
  if (!gemm.fits(total)) return undefined;
  gemm.workspace(total, keep);
  return { module, at, chunks, reverse: g.goBackwards ? 1 : 0, end: base + total };
}

/** Byte offsets of named float arrays laid out one after another from `base` (64-aligned, with slack). */
function layout<K extends string>(base: number, floats: Record<K, number>): { readonly at: Record<K, number>; readonly bytes: number } {
  const at = {} as Record<K, number>;
  let end = base;
  for (const key of Object.keys(floats) as K[]) {
    at[key] = end;
    end = Math.ceil((end + 4 * floats[key] + SLACK_BYTES) / 64) * 64;
  }
  return { at, bytes: end - base };
}

/** The gate module for `g`'s activations on the GEMM's shared memory, or undefined where it cannot run there. */
function sharedGates(gemm: SharedGemm, g: SequenceGeometry): SharedTaskModule<GatePasses> | undefined {
  const module = gateModule(g.act, g.ract);
  const compiled = module.compiled(true);
  const calls = module.for(gemm.memory as never);
  return compiled === undefined || calls === undefined ? undefined : { id: 1 + g.act * 8 + g.ract, compiled, calls };
}

/** Copies `count` floats of `src` on tfjs' heap into the shared memory at byte `dstByte`. */
export function copyIn(heap: RecurrentHeap, gemm: SharedGemm, src: TensorInfo, dstByte: number, count: number): void {
  const from = heap.offset(src);
  gemm.floats().set(heap.f32().subarray(from, from + count), dstByte / 4);
}

/**
 * Copies `rows` rows of `width` floats of `src` on tfjs' heap into rows of `stride` floats in the shared memory at byte
 * `dstByte`, each row's floats past `width` set to 1 (a column of ones: a bias folded into a product as its last k).
 */
export function copyRowsIn(heap: RecurrentHeap, gemm: SharedGemm, src: TensorInfo, dstByte: number, rows: number, width: number, stride: number): void {
  const from = heap.offset(src);
  const source = heap.f32();
  const target = gemm.floats();
  for (let r = 0, d = dstByte / 4, f = from; r < rows; r++, d += stride, f += width) {
    for (let j = 0; j < width; j++) target[d + j] = source[f + j]!;
    for (let j = width; j < stride; j++) target[d + j] = 1;
  }
}

/** Copies `count` floats from the shared memory at byte `srcByte` into `dst` on tfjs' heap. */
export function copyOut(heap: RecurrentHeap, gemm: SharedGemm, srcByte: number, dst: TensorInfo, count: number): void {
  heap.f32().set(gemm.floats().subarray(srcByte / 4, srcByte / 4 + count), heap.offset(dst));
}

/** Whether copies of outputs only a gradient kernel reads may wait for a reader ({@link copyOutLater}). */
export interface TwoThreadCopies {
  readonly defer: boolean;
}

/**
 * {@link copyOut} deferred until someone needs `dst` ({@link SharedGemm.defer}): an output only a later kernel reads,
 * which may read it where it lies instead. Skipped if `dst` was disposed meanwhile.
 */
export function copyOutLater(heap: RecurrentHeap, gemm: SharedGemm, srcByte: number, dst: TensorInfo, count: number): void {
  gemm.defer(() => {
    if (heap.holds(dst)) copyOut(heap, gemm, srcByte, dst, count);
  });
}

/**
 * dst = Σ over the chunks, in chunk order, of the `count` floats each chunk left at `parts` + chunk · count: summed in
 * place on the shared memory by the gate module's SIMD `addInto` (the worker wrote them: a JavaScript loop reading
 * them took ≈ 0.4 ms per LSTM step), then copied out once.
 */
export function sumParts(heap: RecurrentHeap, gemm: SharedGemm, gates: GatePasses, parts: number, chunks: number, dst: TensorInfo, count: number): void {
  for (let chunk = 1; chunk < chunks; chunk++) gates.addInto(parts, parts + 4 * chunk * count, parts, count);
  copyOut(heap, gemm, parts, dst, count);
}

/** Writes a task's int32 parameters at byte `params`. */
export function writeParams(gemm: SharedGemm, params: number, values: readonly number[]): void {
  gemm.ints().set(values, params / 4);
}
