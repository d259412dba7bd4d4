/**
 * The LSTM's two recurrences — the forward pass over the time steps and backpropagation through time — on two threads:
 * the main thread and the own GEMM's worker (gemm/two-thread-gemm.ts `runTask`), on its shared memory.
 *
 * The rows of a batch are independent all along a sequence: row b's h and c at step s depend only on row b's earlier
 * steps. So each thread takes chunks of {@link ROWS_PER_CHUNK} rows and runs the whole sequence on them — per step its
 * rows of h₋₁·U (the GEMM module's `gemmN` on U packed once per call, where the one-thread route re-packs it every
 * step) and their gate passes (gate-simd.ts, instantiated on the shared memory) — with no meeting between the steps.
 * Each row's arithmetic is the same whichever thread runs it, so the results do not depend on how the chunks fell.
 *
 * The price is copying: the inputs into the shared memory (tfjs' heap is not shared) and the outputs back, ≈ 3.5 MB a
 * direction for the bench's LSTM(64) over 32 steps at batch 64, against the per-step products that halve. The forward
 * copies X rather than its projection X·W + bias (each chunk projects its own rows first: 32 KB instead of 2 MB for
 * the bench's LSTM, and no XNNPACK product before the task: 127–142 → 131–144 steps/s).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { GemmExports } from '../gemm/gemm-module.js';
import type { SharedGemm, SharedTask } from '../gemm/two-thread-gemm.js';
import type { GatePasses } from './gate-simd.js';
import type { RecurrentHeap } from './recurrent-heap.js';
import type { SequenceGeometry } from './sequence-kernel-frame.js';
import { copyIn, copyOut, copyRowsIn, ROWS_PER_CHUNK, sequenceWorkspace, sumParts, writeParams } from './two-thread-workspace.js';

/** The forward task's int32 parameters, in this order at its `params` (sizes, then byte offsets). */
const FORWARD_PARAMS = 18;
/** The backward task's int32 parameters (the order {@link lstmBackwardRows} reads). */
const BACKWARD_PARAMS = 27;

/**
 * One chunk of rows of the forward pass, every step (runs in the worker from its source text: self-contained, no
 * nested functions). Writes the gates, c, activation(c), h (into the time-major `hSeq`, step s at s + 1) and y.
 */
export function lstmForwardRows(gemm: GemmExports, gates: GatePasses, ints: Int32Array, params: number, chunk: number): void {
  // The same opening as lstmBackwardRows': a task's source runs alone in the worker, so it cannot call a shared helper.
  const p = params >> 2;
  const B = ints[p]!;
  const T = ints[p + 1]!;
  const H = ints[p + 2]!;
  const r0 = chunk * ints[p + 3]!;
  const r1 = Math.min(B, r0 + ints[p + 3]!);
  const reverse = ints[p + 4]!;
  const [xw, packedU, hSeq, rec, gatesOut, cSeq, tcSeq, y, c0] = [ints[p + 5]!, ints[p + 6]!, ints[p + 7]!, ints[p + 8]!, ints[p + 9]!, ints[p + 10]!, ints[p + 11]!, ints[p + 12]!, ints[p + 13]!];
  const scratch = ints[p + 14]! + 32 * chunk;
  const [xAug, packedW, K] = [ints[p + 15]!, ints[p + 16]!, ints[p + 17]!];
  const G = 4 * H;
  const h4 = 4 * H;
  const g4 = 4 * G;
  const panels = (G + 7) >> 3;
  // The chunk's rows of the input projection first: its rows of X (b·T + t, contiguous) times [W; bias], the bias as
  // the last k (X carries a column of ones), so each sum is x·W in k order and then the bias, as matMul then add.
  const projected = (r1 - r0) * T;
  gemm.gemmN(xAug + r0 * T * 4 * K, 4 * K, 4, packedW, xw + r0 * T * g4, g4, K, projected, G, 0, projected, 0, panels, scratch);
  for (let s = 0; s < T; s++) {
    const t = reverse === 0 ? s : T - 1 - s;
    gemm.gemmN(hSeq + s * B * h4, h4, 4, packedU, rec, g4, H, B, G, r0, r1, 0, panels, scratch);
    // The chunk's rows in one call: each pointer at row r0, then the row count and each pointer's stride per row.
    const x = xw + (r0 * T + t) * g4;
    const r = rec + r0 * g4;
    const g = gatesOut + (s * B + r0) * g4;
    const at = (s * B + r0) * h4;
    const cPrev = s === 0 ? c0 + r0 * h4 : cSeq + at - B * h4;
    gates.lstmForwardRows(
      x, x + h4, x + 2 * h4, x + 3 * h4,
      r, r + h4, r + 2 * h4, r + 3 * h4,
      cPrev,
      g, g + h4, g + 2 * h4, g + 3 * h4,
      cSeq + at, tcSeq + at, hSeq + at + B * h4, y + (r0 * T + s) * h4,
      H, r1 - r0,
      T * g4, T * g4, T * g4, T * g4,
      g4, g4, g4, g4,
      h4,
      g4, g4, g4, g4,
      h4, h4, h4, T * h4,
    );
  }
}

/**
 * One chunk of rows of backpropagation through time (runs in the worker, as {@link lstmForwardRows}). Per step, from
 * the last: the gate gradients of its rows (into `dzStep` and the rows of dZ, h₋₁ into `hPrevAll`, dc in place), then
 * dh₋₁ = dz·Uᵀ for its rows, alternating between the two dh buffers. Then the chunk's share of the weight gradients,
 * over its rows of x, h₋₁ and dZ (contiguous: row b·T + t): H₋₁ᵀ·dZ, Xᵀ·dZ and 1ᵀ·dZ into the chunk's own partial
 * sums, one packing of its dZ rows serving all three.
 */
export function lstmBackwardRows(gemm: GemmExports, gates: GatePasses, ints: Int32Array, params: number, chunk: number): void {
  // The same opening as lstmForwardRows' (see there why it is not shared).
  const p = params >> 2;
  const B = ints[p]!;
  const T = ints[p + 1]!;
  const H = ints[p + 2]!;
  const r0 = chunk * ints[p + 3]!;
  const r1 = Math.min(B, r0 + ints[p + 3]!);
  const reverse = ints[p + 4]!;
  const [dy, gatesIn, cSeq, tcSeq, y, h0, c0, packedUT, dzStep] = [ints[p + 5]!, ints[p + 6]!, ints[p + 7]!, ints[p + 8]!, ints[p + 9]!, ints[p + 10]!, ints[p + 11]!, ints[p + 12]!, ints[p + 13]!];
  const [dZ, hPrevAll, dc, dhA, dhB] = [ints[p + 14]!, ints[p + 15]!, ints[p + 16]!, ints[p + 17]!, ints[p + 18]!];
  const scratch = ints[p + 19]! + 32 * chunk;
  const [D, x, ones, packedDz, dUParts, dWParts, dBParts] = [ints[p + 20]!, ints[p + 21]!, ints[p + 22]!, ints[p + 23]!, ints[p + 24]!, ints[p + 25]!, ints[p + 26]!];
  const G = 4 * H;
  const h4 = 4 * H;
  const g4 = 4 * G;
  const panels = (H + 7) >> 3;
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse === 0 ? s : T - 1 - s;
    const first = ((T - 1 - s) & 1) === 0;
    const dhIn = first ? dhA : dhB;
    const dhOut = first ? dhB : dhA;
    // The chunk's rows in one call (as in lstmForwardRows).
    const g = gatesIn + (s * B + r0) * g4;
    const d = dzStep + r0 * g4;
    const z = dZ + (r0 * T + t) * g4;
    const dcRow = dc + r0 * h4;
    const at = (s * B + r0) * h4;
    const cPrev = s === 0 ? c0 + r0 * h4 : cSeq + at - B * h4;
    const hSource = s === 0 ? h0 + r0 * h4 : y + (r0 * T + s - 1) * h4;
    gates.lstmBackwardRows(
      dy + (r0 * T + s) * h4, dhIn + r0 * h4, dcRow,
      g, g + h4, g + 2 * h4, g + 3 * h4, tcSeq + at, cPrev, hSource,
      d, d + h4, d + 2 * h4, d + 3 * h4,
      z, z + h4, z + 2 * h4, z + 3 * h4,
      hPrevAll + (r0 * T + t) * h4, dcRow,
      H, r1 - r0,
      T * h4, h4, h4,
      g4, g4, g4, g4, h4, h4, s === 0 ? h4 : T * h4,
      g4, g4, g4, g4,
      T * g4, T * g4, T * g4, T * g4,
      T * h4, h4,
    );
    gemm.gemmN(dzStep, g4, 4, packedUT, dhOut, h4, G, B, H, r0, r1, 0, panels, scratch);
  }
  const rows = (r1 - r0) * T;
  const gPanels = (G + 7) >> 3;
  const packed = packedDz + chunk * gPanels * 32 * ints[p + 3]! * T;
  gemm.pack(dZ + r0 * T * g4, packed, rows, G, 0, 0, gPanels);
  gemm.gemmT(hPrevAll + r0 * T * h4, 4, h4, packed, dUParts + chunk * H * g4, g4, rows, H, G, 0, H, 0, gPanels, scratch);
  gemm.gemmT(x + r0 * T * 4 * D, 4, 4 * D, packed, dWParts + chunk * D * g4, g4, rows, D, G, 0, D, 0, gPanels, scratch);
  gemm.gemmT(ones, 4, 4, packed, dBParts + chunk * g4, g4, rows, 1, G, 0, 1, 0, gPanels, scratch);
}

const FORWARD: SharedTask<GatePasses> = { id: 1, run: lstmForwardRows };
const BACKWARD: SharedTask<GatePasses> = { id: 2, run: lstmBackwardRows };

/** The forward kernel's outputs, allocated by the caller: y [B,T,H], gates [T,B,G], cSeq, tcSeq [T,B,H], hLast, cLast [B,H]. */
export interface LstmForwardOutputs {
  readonly y: TensorInfo;
  readonly gates: TensorInfo;
  readonly cSeq: TensorInfo;
  readonly tcSeq: TensorInfo;
  readonly hLast: TensorInfo;
  readonly cLast: TensorInfo;
}

/**
 * The forward recurrence on two threads, the input projection X·W + bias included (each chunk projects its own rows
 * in the shared memory: X is B·T·D floats to copy where the projection is B·T·4H); fills `out`. False (nothing
 * written) where the gate passes cannot run on the shared memory.
 */
export function lstmForwardOnTwoThreads(
  gemm: SharedGemm,
  heap: RecurrentHeap,
  g: SequenceGeometry,
  inputs: { readonly x: TensorInfo; readonly kernel: TensorInfo; readonly bias: TensorInfo | undefined; readonly recurrentKernel: TensorInfo; readonly h0: TensorInfo; readonly c0: TensorInfo },
  out: LstmForwardOutputs,
): boolean {
  const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G } = g;
  // With a bias, X gets a column of ones and W the bias as its last row.
  const K = inputs.bias === undefined ? D : D + 1;
  const panels = (G + 7) >> 3;
  const workspace = sequenceWorkspace(gemm, g, (chunks) => ({
    params: FORWARD_PARAMS, u: H * G, packedU: panels * 8 * H, xw: B * T * G, hSeq: (T + 1) * B * H, rec: B * G,
    gates: T * B * G, cSeq: T * B * H, tcSeq: T * B * H, y: B * T * H, c0: B * H, scratch: 8 * chunks,
    xAug: B * T * K, w: K * G, packedW: panels * 8 * K,
  }));
  if (workspace === undefined) return false;
  const { module, at, chunks, reverse } = workspace;
  writeParams(gemm, at.params, [B, T, H, ROWS_PER_CHUNK, reverse, at.xw, at.packedU, at.hSeq, at.rec, at.gates, at.cSeq, at.tcSeq, at.y, at.c0, at.scratch, at.xAug, at.packedW, K]);
  const prepare = (): void => {
    copyIn(heap, gemm, inputs.recurrentKernel, at.u, H * G);
    copyRowsIn(heap, gemm, inputs.x, at.xAug, B * T, D, K);
    copyIn(heap, gemm, inputs.kernel, at.w, D * G);
    if (inputs.bias !== undefined) copyIn(heap, gemm, inputs.bias, at.w + 4 * D * G, G);
    copyIn(heap, gemm, inputs.h0, at.hSeq, B * H);
    copyIn(heap, gemm, inputs.c0, at.c0, B * H);
    gemm.exports.pack(at.u, at.packedU, H, G, 0, 0, panels);
    gemm.exports.pack(at.w, at.packedW, K, G, 0, 0, panels);
  };
  gemm.runTask(FORWARD, at.params, chunks, module, prepare);
  copyOut(heap, gemm, at.y, out.y, B * T * H);
  copyOut(heap, gemm, at.gates, out.gates, T * B * G);
  copyOut(heap, gemm, at.cSeq, out.cSeq, T * B * H);
  copyOut(heap, gemm, at.tcSeq, out.tcSeq, T * B * H);
  copyOut(heap, gemm, at.hSeq + 4 * T * B * H, out.hLast, B * H);
  copyOut(heap, gemm, at.cSeq + 4 * (T - 1) * B * H, out.cLast, B * H);
  return true;
}

/** The backward kernel's saved inputs (tfjs' heap). */
export interface LstmBackwardInputs {
  readonly dy: TensorInfo;
  readonly dhLast: TensorInfo;
  readonly dcLast: TensorInfo;
  readonly x: TensorInfo;
  readonly recurrentKernel: TensorInfo;
  readonly h0: TensorInfo;
  readonly c0: TensorInfo;
  readonly y: TensorInfo;
  readonly gates: TensorInfo;
  readonly cSeq: TensorInfo;
  readonly tcSeq: TensorInfo;
}

/** What the backward recurrence fills on tfjs' heap (allocated by the caller). */
export interface LstmBackwardOutputs {
  /** The gate pre-activations' gradient [B·T, G], rows aligned with x's. */
  readonly dZ: TensorInfo;
  readonly dKernel: TensorInfo;
  readonly dRecurrent: TensorInfo;
  readonly dBias: TensorInfo;
  readonly dh0: TensorInfo;
  readonly dc0: TensorInfo;
}

/**
 * Backpropagation through time and the weight gradients on two threads: fills `out` (dZ [B·T, G], dW [D,G], dU [H,G],
 * dBias [G], dh0, dc0 [B,H]) on tfjs' heap, each weight gradient the sum of the chunks' partial sums in chunk order.
 * False (nothing written) where the gate passes cannot run on the shared memory.
 */
export function lstmBackwardOnTwoThreads(gemm: SharedGemm, heap: RecurrentHeap, g: SequenceGeometry, inputs: LstmBackwardInputs, out: LstmBackwardOutputs): boolean {
  const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G } = g;
  const gPanels = (G + 7) >> 3;
  const workspace = sequenceWorkspace(gemm, g, (chunks) => ({
    params: BACKWARD_PARAMS, u: H * G, packedUT: ((H + 7) >> 3) * 8 * G, dy: B * T * H, gates: T * B * G, cSeq: T * B * H, tcSeq: T * B * H,
    y: B * T * H, h0: B * H, c0: B * H, dzStep: B * G, dZ: B * T * G, hPrevAll: B * T * H, dc: B * H, dhA: B * H, dhB: B * H, scratch: 8 * chunks,
    x: B * T * D, ones: ROWS_PER_CHUNK * T, packedDz: chunks * gPanels * 8 * ROWS_PER_CHUNK * T, dUParts: chunks * H * G, dWParts: chunks * D * G,
    dBParts: chunks * G,
  }));
  if (workspace === undefined) return false;
  const { module, at, chunks, reverse } = workspace;
  const sizes = [B, T, H, ROWS_PER_CHUNK, reverse];
  const recurrence = [at.dy, at.gates, at.cSeq, at.tcSeq, at.y, at.h0, at.c0, at.packedUT, at.dzStep, at.dZ, at.hPrevAll, at.dc, at.dhA, at.dhB, at.scratch];
  writeParams(gemm, at.params, [...sizes, ...recurrence, D, at.x, at.ones, at.packedDz, at.dUParts, at.dWParts, at.dBParts]);
  const copies: Array<[TensorInfo, number, number]> = [
    [inputs.recurrentKernel, at.u, H * G], [inputs.dy, at.dy, B * T * H], [inputs.gates, at.gates, T * B * G], [inputs.cSeq, at.cSeq, T * B * H],
    [inputs.tcSeq, at.tcSeq, T * B * H], [inputs.y, at.y, B * T * H], [inputs.h0, at.h0, B * H], [inputs.c0, at.c0, B * H],
    [inputs.dcLast, at.dc, B * H], [inputs.dhLast, at.dhA, B * H], [inputs.x, at.x, B * T * D],
  ];
  const prepare = (): void => {
    for (const [src, dst, count] of copies) copyIn(heap, gemm, src, dst, count);
    gemm.floats().fill(1, at.ones / 4, at.ones / 4 + ROWS_PER_CHUNK * T);
    gemm.exports.pack(at.u, at.packedUT, G, H, 1, 0, (H + 7) >> 3);
  };
  gemm.runTask(BACKWARD, at.params, chunks, module, prepare);
  copyOut(heap, gemm, at.dZ, out.dZ, B * T * G);
  // dh₋₁ of step 0 is in the buffer step 0 wrote: dhB when T is odd (the steps alternate, starting by writing dhB).
  copyOut(heap, gemm, (T - 1) % 2 === 0 ? at.dhB : at.dhA, out.dh0, B * H);
  copyOut(heap, gemm, at.dc, out.dc0, B * H);
  sumParts(heap, gemm, at.dUParts, chunks, out.dRecurrent, H * G);
  sumParts(heap, gemm, at.dWParts, chunks, out.dKernel, D * G);
  sumParts(heap, gemm, at.dBParts, chunks, out.dBias, G);
  return true;
}
