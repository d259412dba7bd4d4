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
 * The price is copying: the inputs into the shared memory (tfjs' heap is not shared) and the outputs back, against
 * the per-step products that halve. The forward copies X rather than its projection X·W + bias (each chunk projects
 * its own rows first: 32 KB instead of 2 MB for the bench's LSTM, and no XNNPACK product before the task: 127–142 →
 * 131–144 steps/s). What only the backward reads stays where it is: the forward's gates, c and activation(c) are
 * copied out only if something else is about to overwrite them, and a backward that finds its forward's arrays
 * intact reads them in place; dZ, read only for the input's gradient, waits for that reader too. For the bench's
 * LSTM(64) over 32 steps at batch 64 that leaves ≈ 1.2 MB to copy per training step instead of ≈ 9 MB (the copies
 * took ≈ 15 % of the main thread's time): 105–110 → 120–135 steps/s, measured alternately.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { GemmExports } from '../gemm/gemm-module.js';
import type { SharedGemm, SharedTask } from '../gemm/two-thread-gemm.js';
import type { GatePasses } from './gate-simd.js';
import type { RecurrentHeap } from './recurrent-heap.js';
import type { SequenceGeometry } from './sequence-kernel-frame.js';
import { copyIn, copyOut, copyOutLater, copyRowsIn, ROWS_PER_CHUNK, type SequenceWorkspace, sequenceWorkspace, sumParts, type TwoThreadCopies, writeParams } from './two-thread-workspace.js';

/** The forward task's int32 parameters, in this order at its `params` (sizes, then byte offsets). */
const FORWARD_PARAMS = 18;
/** The backward task's int32 parameters (the order {@link lstmBackwardRows} reads). */
const BACKWARD_PARAMS = 28;

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
  const [D, x, ones, packedDz, dUParts, dWParts, dBParts, xStride] = [ints[p + 20]!, ints[p + 21]!, ints[p + 22]!, ints[p + 23]!, ints[p + 24]!, ints[p + 25]!, ints[p + 26]!, ints[p + 27]!];
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
  gemm.gemmT(x + r0 * T * 4 * xStride, 4, 4 * xStride, packed, dWParts + chunk * D * g4, g4, rows, D, G, 0, D, 0, gPanels, scratch);
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
 * What the last forward left in the shared memory for its backward: the byte offsets of its arrays there, the data ids
 * of the tensors they hold, and the GEMM's generation once it was done. The backward of that call finds it intact
 * when the generation is unchanged (no product or task ran in between: a model whose only two-thread work between
 * them is this layer's) and reads it where it lies.
 */
interface ResidentForward {
  readonly gemm: SharedGemm;
  readonly generation: number;
  /** Byte offset past the forward's workspace. */
  readonly end: number;
  readonly at: { readonly u: number; readonly xAug: number; readonly xStride: number; readonly h0: number; readonly c0: number; readonly y: number; readonly gates: number; readonly cSeq: number; readonly tcSeq: number };
  /** The tensors whose data the arrays hold, by the backward's input names. */
  readonly ids: Readonly<Record<ResidentInput, unknown>>;
}

type ResidentInput = 'x' | 'recurrentKernel' | 'h0' | 'c0' | 'y' | 'gates' | 'cSeq' | 'tcSeq';
const RESIDENT_INPUTS: readonly ResidentInput[] = ['x', 'recurrentKernel', 'h0', 'c0', 'y', 'gates', 'cSeq', 'tcSeq'];

let resident: ResidentForward | undefined;
let residentBackwards = 0;

/** How many two-thread backward calls read their forward's arrays where they lay (for tests). */
export function lstmResidentBackwards(): number {
  return residentBackwards;
}

/** The last forward's data in the shared memory if it is what `inputs` hold and still intact there. */
function residentFor(gemm: SharedGemm, inputs: LstmBackwardInputs): ResidentForward | undefined {
  const r = resident;
  if (r === undefined || r.gemm !== gemm || r.generation !== gemm.generation) return undefined;
  return RESIDENT_INPUTS.every((name) => inputs[name].dataId === r.ids[name]) ? r : undefined;
}

/**
 * The forward recurrence on two threads, the input projection X·W + bias included (each chunk projects its own rows
 * in the shared memory: X is B·T·D floats to copy where the projection is B·T·4H); fills `out`. False (nothing
 * written) where the gate passes cannot run on the shared memory.
 *
 * y, hLast and cLast are copied out at once. The gates, c and activation(c) — 3 MB of the bench's LSTM, read only by
 * the backward kernel — are copied out when someone needs them (`copies.defer`): before anything overwrites the
 * shared memory, or never when the backward reads them where they lie ({@link lstmBackwardOnTwoThreads}).
 */
export function lstmForwardOnTwoThreads(
  gemm: SharedGemm,
  heap: RecurrentHeap,
  g: SequenceGeometry,
  inputs: { readonly x: TensorInfo; readonly kernel: TensorInfo; readonly bias: TensorInfo | undefined; readonly recurrentKernel: TensorInfo; readonly h0: TensorInfo; readonly c0: TensorInfo },
  out: LstmForwardOutputs,
  copies: TwoThreadCopies,
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
  resident = undefined;
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
  copyOut(heap, gemm, at.hSeq + 4 * T * B * H, out.hLast, B * H);
  copyOut(heap, gemm, at.cSeq + 4 * (T - 1) * B * H, out.cLast, B * H);
  const copy = copies.defer ? copyOutLater : copyOut;
  copy(heap, gemm, at.gates, out.gates, T * B * G);
  copy(heap, gemm, at.cSeq, out.cSeq, T * B * H);
  copy(heap, gemm, at.tcSeq, out.tcSeq, T * B * H);
  resident = {
    gemm,
    generation: gemm.generation,
    end: workspace.end,
    at: { u: at.u, xAug: at.xAug, xStride: K, h0: at.hSeq, c0: at.c0, y: at.y, gates: at.gates, cSeq: at.cSeq, tcSeq: at.tcSeq },
    ids: { x: inputs.x.dataId, recurrentKernel: inputs.recurrentKernel.dataId, h0: inputs.h0.dataId, c0: inputs.c0.dataId, y: out.y.dataId, gates: out.gates.dataId, cSeq: out.cSeq.dataId, tcSeq: out.tcSeq.dataId },
  };
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
 *
 * When the forward of these inputs was the last thing to run on the shared memory, its arrays there (x, U, h0, c0, y,
 * the gates, c and activation(c): 3.5 MB for the bench's LSTM) are read where they lie, and this task's own arrays
 * start past them; else they are copied in from tfjs' heap. dZ, read only when the sequence input needs a gradient,
 * is copied out when someone needs it (`copies.defer`; fused-recurrent-layers.ts flushes before reading it).
 */
export function lstmBackwardOnTwoThreads(gemm: SharedGemm, heap: RecurrentHeap, g: SequenceGeometry, inputs: LstmBackwardInputs, out: LstmBackwardOutputs, copies: TwoThreadCopies): boolean {
  const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G } = g;
  const gPanels = (G + 7) >> 3;
  const forward = residentFor(gemm, inputs);
  const ownArrays = (chunks: number) => ({
    params: BACKWARD_PARAMS, packedUT: ((H + 7) >> 3) * 8 * G, dy: B * T * H, dzStep: B * G, dZ: B * T * G, hPrevAll: B * T * H, dc: B * H, dhA: B * H, dhB: B * H,
    scratch: 8 * chunks, ones: ROWS_PER_CHUNK * T, packedDz: chunks * gPanels * 8 * ROWS_PER_CHUNK * T, dUParts: chunks * H * G, dWParts: chunks * D * G, dBParts: chunks * G,
  });
  let workspace: SequenceWorkspace<keyof ReturnType<typeof ownArrays>> | undefined;
  let at: ResidentForward['at'];
  if (forward !== undefined) {
    // Past the forward's arrays, which stay as they are (and so do the copies deferred from them).
    workspace = sequenceWorkspace(gemm, g, ownArrays, forward.end);
    at = forward.at;
  } else {
    const saved = { u: H * G, gates: T * B * G, cSeq: T * B * H, tcSeq: T * B * H, y: B * T * H, h0: B * H, c0: B * H, x: B * T * D };
    const both = sequenceWorkspace(gemm, g, (chunks) => ({ ...saved, ...ownArrays(chunks) }));
    if (both === undefined) return false;
    workspace = both;
    at = { ...both.at, xAug: both.at.x, xStride: D };
  }
  if (workspace === undefined) return false;
  const { module, at: own, chunks, reverse } = workspace;
  const sizes = [B, T, H, ROWS_PER_CHUNK, reverse];
  const recurrence = [own.dy, at.gates, at.cSeq, at.tcSeq, at.y, at.h0, at.c0, own.packedUT, own.dzStep, own.dZ, own.hPrevAll, own.dc, own.dhA, own.dhB, own.scratch];
  writeParams(gemm, own.params, [...sizes, ...recurrence, D, at.xAug, own.ones, own.packedDz, own.dUParts, own.dWParts, own.dBParts, at.xStride]);
  const carried: Array<[TensorInfo, number, number]> = [[inputs.dy, own.dy, B * T * H], [inputs.dcLast, own.dc, B * H], [inputs.dhLast, own.dhA, B * H]];
  const copiesIn: Array<[TensorInfo, number, number]> =
    forward !== undefined
      ? carried
      : [
          ...carried,
          [inputs.recurrentKernel, at.u, H * G], [inputs.gates, at.gates, T * B * G], [inputs.cSeq, at.cSeq, T * B * H], [inputs.tcSeq, at.tcSeq, T * B * H],
          [inputs.y, at.y, B * T * H], [inputs.h0, at.h0, B * H], [inputs.c0, at.c0, B * H], [inputs.x, at.xAug, B * T * D],
        ];
  const prepare = (): void => {
    for (const [src, dst, count] of copiesIn) copyIn(heap, gemm, src, dst, count);
    gemm.floats().fill(1, own.ones / 4, own.ones / 4 + ROWS_PER_CHUNK * T);
    gemm.exports.pack(at.u, own.packedUT, G, H, 1, 0, (H + 7) >> 3);
  };
  gemm.runTask(BACKWARD, own.params, chunks, module, prepare);
  if (forward !== undefined) residentBackwards++;
  (copies.defer ? copyOutLater : copyOut)(heap, gemm, own.dZ, out.dZ, B * T * G);
  // dh₋₁ of step 0 is in the buffer step 0 wrote: dhB when T is odd (the steps alternate, starting by writing dhB).
  copyOut(heap, gemm, (T - 1) % 2 === 0 ? own.dhB : own.dhA, out.dh0, B * H);
  copyOut(heap, gemm, own.dc, out.dc0, B * H);
  sumParts(heap, gemm, module.calls, own.dUParts, chunks, out.dRecurrent, H * G);
  sumParts(heap, gemm, module.calls, own.dWParts, chunks, out.dKernel, D * G);
  sumParts(heap, gemm, module.calls, own.dBParts, chunks, out.dBias, G);
  return true;
}
