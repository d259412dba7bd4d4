/**
 * The GRU's two recurrences on two threads, as the LSTM's (lstm-two-threads.ts: chunks of batch rows through the whole
 * sequence, tasks on the own GEMM's worker). Per step the GRU needs two products, its reset gate between them —
 * h₋₁·U_zr, the gates z and r, (r·h₋₁)·U_h, the output — but each product and gate pass reads and writes only the
 * rows of its chunk, so the chunks still never meet. U's column blocks U_zr [H,2H] and U_h [H,H] are copied apart
 * and packed once per call (for the backward, transposed).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { GemmExports } from '../gemm/gemm-module.js';
import type { SharedGemm, SharedTask } from '../gemm/two-thread-gemm.js';
import type { GatePasses } from './gate-simd.js';
import type { RecurrentHeap } from './recurrent-heap.js';
import type { SequenceGeometry } from './sequence-kernel-frame.js';
import { copyIn, copyOut, copyOutLater, ROWS_PER_CHUNK, sequenceWorkspace, sumParts, type TwoThreadCopies, writeParams } from './two-thread-workspace.js';

/** The forward task's int32 parameters, in the order {@link gruForwardRows} reads them. */
const FORWARD_PARAMS = 16;
/** The backward task's int32 parameters, in the order {@link gruBackwardRows} reads them. */
const BACKWARD_PARAMS = 32;

/**
 * One chunk of rows of the GRU's forward pass, every step (runs in the worker from its source text: self-contained, no
 * nested functions). Writes the gates (z, r, hh), r·h₋₁, h (into the time-major `hSeq`, step s at s + 1) and y.
 */
export function gruForwardRows(gemm: GemmExports, gates: GatePasses, ints: Int32Array, params: number, chunk: number): void {
  // The same opening as the LSTM's tasks: a task's source runs alone in the worker, so it cannot call a shared helper.
  const p = params >> 2;
  const B = ints[p]!;
  const T = ints[p + 1]!;
  const H = ints[p + 2]!;
  const r0 = chunk * ints[p + 3]!;
  const r1 = Math.min(B, r0 + ints[p + 3]!);
  const reverse = ints[p + 4]!;
  const [xw, packedUzr, packedUh, hSeq, recZr, rhStep, recH, gatesOut, rh, y] = [
    ints[p + 5]!, ints[p + 6]!, ints[p + 7]!, ints[p + 8]!, ints[p + 9]!, ints[p + 10]!, ints[p + 11]!, ints[p + 12]!, ints[p + 13]!, ints[p + 14]!,
  ];
  const scratch = ints[p + 15]! + 32 * chunk;
  const h4 = 4 * H;
  const g4 = 3 * h4;
  const rows = r1 - r0;
  for (let s = 0; s < T; s++) {
    const t = reverse === 0 ? s : T - 1 - s;
    const hp = hSeq + (s * B + r0) * h4;
    const x = xw + (r0 * T + t) * g4;
    const gz = gatesOut + (s * B + r0) * g4;
    const rz = recZr + r0 * 2 * h4;
    gemm.gemmN(hSeq + s * B * h4, h4, 4, packedUzr, recZr, 2 * h4, H, B, 2 * H, r0, r1, 0, (2 * H + 7) >> 3, scratch);
    gates.gruForwardGatesRows(
      x, x + h4, rz, rz + h4, hp, gz, gz + h4, rhStep + r0 * h4, rh + (s * B + r0) * h4,
      H, rows,
      T * g4, T * g4, 2 * h4, 2 * h4, h4, g4, g4, h4, h4,
    );
    gemm.gemmN(rhStep, h4, 4, packedUh, recH, h4, H, B, H, r0, r1, 0, (H + 7) >> 3, scratch);
    gates.gruForwardOutputRows(
      x + 2 * h4, recH + r0 * h4, gz, hp, gz + 2 * h4, hSeq + ((s + 1) * B + r0) * h4, y + (r0 * T + s) * h4,
      H, rows,
      T * g4, h4, g4, h4, g4, h4, T * h4,
    );
  }
}

/**
 * One chunk of rows of the GRU's backpropagation through time (runs in the worker, as {@link gruForwardRows}): per
 * step, from the last, the output gate pass, dRh = dah·U_hᵀ, the gate pass, dh₋₁ += dz_zr·U_zrᵀ; then the chunk's
 * partial weight gradients: H₋₁ᵀ·dZ_zr and (r·h₋₁)ᵀ·dZ_h into the columns of its [H, 3H] block, Xᵀ·dZ and 1ᵀ·dZ.
 */
export function gruBackwardRows(gemm: GemmExports, gates: GatePasses, ints: Int32Array, params: number, chunk: number): void {
  // The same opening as gruForwardRows' (see there why it is not shared).
  const p = params >> 2;
  const B = ints[p]!;
  const T = ints[p + 1]!;
  const H = ints[p + 2]!;
  const r0 = chunk * ints[p + 3]!;
  const r1 = Math.min(B, r0 + ints[p + 3]!);
  const reverse = ints[p + 4]!;
  const [dy, gatesIn, rh, y, h0, packedUhT, packedUzrT, dhNext, dhPrev, dzGate, dAh, dRh, dZrStep, dhRec] = [
    ints[p + 5]!, ints[p + 6]!, ints[p + 7]!, ints[p + 8]!, ints[p + 9]!, ints[p + 10]!, ints[p + 11]!, ints[p + 12]!, ints[p + 13]!, ints[p + 14]!,
    ints[p + 15]!, ints[p + 16]!, ints[p + 17]!, ints[p + 18]!,
  ];
  const [dZ, dZr, dZh, hPrevAll, rhAll] = [ints[p + 19]!, ints[p + 20]!, ints[p + 21]!, ints[p + 22]!, ints[p + 23]!];
  const scratch = ints[p + 24]! + 32 * chunk;
  const [D, x, ones, packedParts, dRecParts, dWParts, dBParts] = [ints[p + 25]!, ints[p + 26]!, ints[p + 27]!, ints[p + 28]!, ints[p + 29]!, ints[p + 30]!, ints[p + 31]!];
  const h4 = 4 * H;
  const g4 = 3 * h4;
  const rows = r1 - r0;
  const hPanels = (H + 7) >> 3;
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse === 0 ? s : T - 1 - s;
    const hp = s === 0 ? h0 + r0 * h4 : y + (r0 * T + s - 1) * h4;
    const hpStride = s === 0 ? h4 : T * h4;
    const gz = gatesIn + (s * B + r0) * g4;
    const row0 = r0 * T + t;
    const step = dZrStep + r0 * 2 * h4;
    gates.gruBackwardOutputRows(
      dy + (r0 * T + s) * h4, dhNext + r0 * h4, gz, gz + 2 * h4, hp,
      dhPrev + r0 * h4, dzGate + r0 * h4, dAh + r0 * h4, dZ + row0 * g4 + 2 * h4, dZh + row0 * h4,
      H, rows,
      T * h4, h4, g4, g4, hpStride,
      h4, h4, h4, T * g4, T * h4,
    );
    gemm.gemmN(dAh, h4, 4, packedUhT, dRh, h4, H, B, H, r0, r1, 0, hPanels, scratch);
    gates.gruBackwardGatesRows(
      dRh + r0 * h4, gz + h4, hp, dhPrev + r0 * h4, dzGate + r0 * h4, rh + (s * B + r0) * h4,
      dhPrev + r0 * h4, step, step + h4, dZ + row0 * g4, dZ + row0 * g4 + h4, dZr + row0 * 2 * h4, dZr + row0 * 2 * h4 + h4,
      hPrevAll + row0 * h4, rhAll + row0 * h4,
      H, rows,
      h4, g4, hpStride, h4, h4, h4,
      h4, 2 * h4, 2 * h4, T * g4, T * g4, 2 * T * h4, 2 * T * h4, T * h4, T * h4,
    );
    gemm.gemmN(dZrStep, 2 * h4, 4, packedUzrT, dhRec, h4, 2 * H, B, H, r0, r1, 0, hPanels, scratch);
    gates.addInto(dhPrev + r0 * h4, dhRec + r0 * h4, dhNext + r0 * h4, rows * H);
  }
  const k = rows * T;
  const first = r0 * T;
  const packed = packedParts + chunk * ((3 * H + 7) >> 3) * 32 * ints[p + 3]! * T;
  const recPart = dRecParts + chunk * H * g4;
  gemm.pack(dZr + first * 2 * h4, packed, k, 2 * H, 0, 0, (2 * H + 7) >> 3);
  gemm.gemmT(hPrevAll + first * h4, 4, h4, packed, recPart, g4, k, H, 2 * H, 0, H, 0, (2 * H + 7) >> 3, scratch);
  gemm.pack(dZh + first * h4, packed, k, H, 0, 0, hPanels);
  gemm.gemmT(rhAll + first * h4, 4, h4, packed, recPart + 2 * h4, g4, k, H, H, 0, H, 0, hPanels, scratch);
  gemm.pack(dZ + first * g4, packed, k, 3 * H, 0, 0, (3 * H + 7) >> 3);
  gemm.gemmT(x + first * 4 * D, 4, 4 * D, packed, dWParts + chunk * D * g4, g4, k, D, 3 * H, 0, D, 0, (3 * H + 7) >> 3, scratch);
  gemm.gemmT(ones, 4, 4, packed, dBParts + chunk * g4, g4, k, 1, 3 * H, 0, 1, 0, (3 * H + 7) >> 3, scratch);
}

const FORWARD: SharedTask<GatePasses> = { id: 3, run: gruForwardRows };
const BACKWARD: SharedTask<GatePasses> = { id: 4, run: gruBackwardRows };

/** Copies columns [from, from + width) of the [H, 3H] recurrent kernel on tfjs' heap into an [H, width] block at `dstByte`. */
function copyColumns(heap: RecurrentHeap, gemm: SharedGemm, u: TensorInfo, H: number, from: number, width: number, dstByte: number): void {
  const floats = gemm.floats();
  const f32 = heap.f32();
  const at = heap.offset(u);
  for (let row = 0; row < H; row++) floats.set(f32.subarray(at + row * 3 * H + from, at + row * 3 * H + from + width), dstByte / 4 + row * width);
}

/** The forward kernel's outputs, allocated by the caller: y [B,T,H], hLast [B,H], gates [T,B,3H], rh [T,B,H]. */
export interface GruForwardOutputs {
  readonly y: TensorInfo;
  readonly hLast: TensorInfo;
  readonly gates: TensorInfo;
  readonly rh: TensorInfo;
}

/**
 * The GRU's forward recurrence on two threads, from the input projection `xw` [B·T, 3H] (bias included) on tfjs'
 * heap; fills `out`. False (nothing written) where the gate passes cannot run on the shared memory.
 */
export function gruForwardOnTwoThreads(
  gemm: SharedGemm,
  heap: RecurrentHeap,
  g: SequenceGeometry,
  inputs: { readonly xw: TensorInfo; readonly recurrentKernel: TensorInfo; readonly h0: TensorInfo },
  out: GruForwardOutputs,
): boolean {
  const { batch: B, steps: T, units: H, gateWidth: G } = g;
  const workspace = sequenceWorkspace(gemm, g, (chunks) => ({
    params: FORWARD_PARAMS, uZr: 2 * H * H, uH: H * H, packedUzr: ((2 * H + 7) >> 3) * 8 * H, packedUh: ((H + 7) >> 3) * 8 * H, xw: B * T * G,
    hSeq: (T + 1) * B * H, recZr: 2 * B * H, rhStep: B * H, recH: B * H, gates: T * B * G, rh: T * B * H, y: B * T * H, scratch: 8 * chunks,
  }));
  if (workspace === undefined) return false;
  const { module, at, chunks, reverse } = workspace;
  writeParams(gemm, at.params, [B, T, H, ROWS_PER_CHUNK, reverse, at.xw, at.packedUzr, at.packedUh, at.hSeq, at.recZr, at.rhStep, at.recH, at.gates, at.rh, at.y, at.scratch]);
  const prepare = (): void => {
    copyColumns(heap, gemm, inputs.recurrentKernel, H, 0, 2 * H, at.uZr);
    copyColumns(heap, gemm, inputs.recurrentKernel, H, 2 * H, H, at.uH);
    copyIn(heap, gemm, inputs.xw, at.xw, B * T * G);
    copyIn(heap, gemm, inputs.h0, at.hSeq, B * H);
    gemm.exports.pack(at.uZr, at.packedUzr, H, 2 * H, 0, 0, (2 * H + 7) >> 3);
    gemm.exports.pack(at.uH, at.packedUh, H, H, 0, 0, (H + 7) >> 3);
  };
  gemm.runTask(FORWARD, at.params, chunks, module, prepare);
  copyOut(heap, gemm, at.y, out.y, B * T * H);
  copyOut(heap, gemm, at.gates, out.gates, T * B * G);
  copyOut(heap, gemm, at.rh, out.rh, T * B * H);
  copyOut(heap, gemm, at.hSeq + 4 * T * B * H, out.hLast, B * H);
  return true;
}

/** The GRU backward kernel's saved inputs (tfjs' heap). */
export interface GruBackwardInputs {
  readonly dy: TensorInfo;
  readonly dhLast: TensorInfo;
  readonly x: TensorInfo;
  readonly recurrentKernel: TensorInfo;
  readonly h0: TensorInfo;
  readonly y: TensorInfo;
  readonly gates: TensorInfo;
  readonly rh: TensorInfo;
}

/** What the GRU's backward recurrence fills on tfjs' heap (allocated by the caller). */
export interface GruBackwardOutputs {
  /** The gate pre-activations' gradient [B·T, 3H], rows aligned with x's. */
  readonly dZ: TensorInfo;
  readonly dKernel: TensorInfo;
  readonly dRecurrent: TensorInfo;
  readonly dBias: TensorInfo;
  readonly dh0: TensorInfo;
}

/**
 * The GRU's backpropagation through time and weight gradients on two threads: fills `out`, each weight gradient the
 * sum of the chunks' partial sums in chunk order. False (nothing written) where the gate passes cannot run there.
 * dZ is copied out when someone reads it, as the LSTM's (`copies.defer`).
 */
export function gruBackwardOnTwoThreads(gemm: SharedGemm, heap: RecurrentHeap, g: SequenceGeometry, inputs: GruBackwardInputs, out: GruBackwardOutputs, copies: TwoThreadCopies): boolean {
  const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G } = g;
  const hPanels = (H + 7) >> 3;
  const workspace = sequenceWorkspace(gemm, g, (chunks) => ({
    params: BACKWARD_PARAMS, uZr: 2 * H * H, uH: H * H, packedUhT: hPanels * 8 * H, packedUzrT: hPanels * 8 * 2 * H, dy: B * T * H, gates: T * B * G,
    rh: T * B * H, y: B * T * H, h0: B * H, dhNext: B * H, dhPrev: B * H, dzGate: B * H, dAh: B * H, dRh: B * H, dZrStep: 2 * B * H, dhRec: B * H,
    dZ: B * T * G, dZr: 2 * B * T * H, dZh: B * T * H, hPrevAll: B * T * H, rhAll: B * T * H, scratch: 8 * chunks, x: B * T * D, ones: ROWS_PER_CHUNK * T,
    packedParts: chunks * ((G + 7) >> 3) * 8 * ROWS_PER_CHUNK * T, dRecParts: chunks * H * G, dWParts: chunks * D * G, dBParts: chunks * G,
  }));
  if (workspace === undefined) return false;
  const { module, at, chunks, reverse } = workspace;
  const recurrence = [at.dy, at.gates, at.rh, at.y, at.h0, at.packedUhT, at.packedUzrT, at.dhNext, at.dhPrev, at.dzGate, at.dAh, at.dRh, at.dZrStep, at.dhRec];
  const saved = [at.dZ, at.dZr, at.dZh, at.hPrevAll, at.rhAll, at.scratch];
  writeParams(gemm, at.params, [B, T, H, ROWS_PER_CHUNK, reverse, ...recurrence, ...saved, D, at.x, at.ones, at.packedParts, at.dRecParts, at.dWParts, at.dBParts]);
  const copiesIn: Array<[TensorInfo, number, number]> = [
    [inputs.dy, at.dy, B * T * H], [inputs.gates, at.gates, T * B * G], [inputs.rh, at.rh, T * B * H], [inputs.y, at.y, B * T * H],
    [inputs.h0, at.h0, B * H], [inputs.dhLast, at.dhNext, B * H], [inputs.x, at.x, B * T * D],
  ];
  const prepare = (): void => {
    for (const [src, dst, count] of copiesIn) copyIn(heap, gemm, src, dst, count);
    copyColumns(heap, gemm, inputs.recurrentKernel, H, 0, 2 * H, at.uZr);
    copyColumns(heap, gemm, inputs.recurrentKernel, H, 2 * H, H, at.uH);
    gemm.floats().fill(1, at.ones / 4, at.ones / 4 + ROWS_PER_CHUNK * T);
    gemm.exports.pack(at.uH, at.packedUhT, H, H, 1, 0, hPanels);
    gemm.exports.pack(at.uZr, at.packedUzrT, 2 * H, H, 1, 0, hPanels);
  };
  gemm.runTask(BACKWARD, at.params, chunks, module, prepare);
  // dZ is read only for the input's gradient (fused-recurrent-layers.ts flushes before reading it).
  (copies.defer ? copyOutLater : copyOut)(heap, gemm, at.dZ, out.dZ, B * T * G);
  copyOut(heap, gemm, at.dhNext, out.dh0, B * H);
  sumParts(heap, gemm, module.calls, at.dRecParts, chunks, out.dRecurrent, H * G);
  sumParts(heap, gemm, module.calls, at.dWParts, chunks, out.dKernel, D * G);
  sumParts(heap, gemm, module.calls, at.dBParts, chunks, out.dBias, G);
  return true;
}
