/**
 * tfjs-layers' LSTM over a whole sequence as two wasm kernels: the forward pass over every time step in one call, and
 * backpropagation through time in one call.
 *
 * tfjs-layers runs the LSTM cell op by op: ≈15 kernels per time step forward and more backward, each a trip through
 * the engine and the gradient tape (tens of µs) around very little arithmetic. Here the input projection of all time
 * steps is ONE matMul ([B·T, D]·[D, 4H] + bias), each step is one native matMul (h·U) plus one elementwise pass over
 * the gates on the heap, and the backward pass is one gate-gradient pass + one matMul (dz·Uᵀ) per step, then
 * dW = Xᵀ·dZ, dU = Hᵀ·dZ and dX = dZ·Wᵀ as one GEMM each. The gate passes are plain loops over the wasm heap: there is
 * no library for this, and no clang/emscripten in the build for a native version.
 *
 * Formulation (tfjs-layers' LSTMCell): z = x·W + h·U + b split into [i, f, g, o]; i, f, o = recurrentActivation;
 * g = activation; c = f·c₋₁ + i·g; h = o·activation(c).
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { toKernelFunc } from '../kernels/wasm-kernel-types.js';
import { type GatePasses, gatePasses } from './gate-simd.js';
import { flushDeferredCopies, onTwoThreadGemm } from '../gemm/gemm-mat-mul.js';
import { activateRange, derivative, type RecurrentHeap, type RecurrentNativeKernels, viewAs } from './recurrent-heap.js';
import { lstmBackwardOnTwoThreads, lstmForwardOnTwoThreads, type LstmBackwardInputs } from './lstm-two-threads.js';
import type { TwoThreadCopies } from './two-thread-workspace.js';
import {
  copyFloats,
  inputProjection,
  onRecurrentHeap,
  type SequenceGeometry,
  sequenceInputs,
  timeIndex,
  weightGradients,
} from './sequence-kernel-frame.js';

export const LSTM_SEQUENCE = 'FitstreamLSTMSequence';
export const LSTM_SEQUENCE_GRAD = 'FitstreamLSTMSequenceGrad';

/**
 * The forward kernel. Inputs `x` [B,T,D], `kernel` [D,4H], `recurrentKernel` [H,4H], optional `bias` [4H], `h0`,
 * `c0` [B,H]; attrs `activation`, `recurrentActivation`, `goBackwards`. Outputs `y` [B,T,H] (h of each step in
 * processing order, as tfjs' `rnn`), `hLast`, `cLast` [B,H], and for the backward kernel `gates` [T,B,4H] (i,f,g,o
 * after activation), `cSeq` and `tcSeq` [T,B,H] (c and activation(c) of each step).
 */
export function createLstmSequenceKernel(native: RecurrentNativeKernels, copies: () => TwoThreadCopies): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, bias, geometry: g } = sequenceInputs(args, LSTM_SEQUENCE, 4, ['x', 'kernel', 'recurrentKernel', 'h0', 'c0'], (g) => [
      ['kernel', [g.inputDim, g.gateWidth]],
      ['h0', [g.batch, g.units]],
      ['c0', [g.batch, g.units]],
    ]);
    const { x, kernel, recurrentKernel, h0, c0 } = inputs;
    const { batch: B, steps: T, units: H, gateWidth: G, act, ract } = g;
    const { backend } = args;
    return onRecurrentHeap(backend, native, (heap, outputs) => {
      const y = heap.output([B, T, H]);
      const hLast = heap.output([B, H]);
      const cLast = heap.output([B, H]);
      const gates = heap.output([T, B, G]);
      const cSeq = heap.output([T, B, H]);
      const tcSeq = heap.output([T, B, H]);
      outputs.push(y, hLast, cLast, gates, cSeq, tcSeq);
      const simd = gatePasses(backend, act, ract);
      const out = { y, gates, cSeq, tcSeq, hLast, cLast };
      if (simd !== undefined && onTwoThreadGemm((gemm) => lstmForwardOnTwoThreads(gemm, heap, g, { x, kernel, bias, recurrentKernel, h0, c0 }, out, copies()))) {
        return outputs;
      }
      const xw = inputProjection(heap, g, x, kernel, bias);
      // One recurrent product per step (h₋₁·U for all four gates); the GRU's needs two (its reset gate comes between).
      const u = heap.copy(recurrentKernel, [1, H, G]);
      let hPrev = viewAs(h0, [1, B, H]);
      for (let s = 0; s < T; s++) {
        const t = timeIndex(g, s);
        const rec = heap.matMul(hPrev, u);
        const hNext = heap.temp([1, B, H]);
        const f32 = heap.f32();
        const oXw = heap.offset(xw);
        const oRec = heap.offset(rec);
        const oH = heap.offset(hNext);
        const oY = heap.offset(y);
        const oGates = heap.offset(gates) + s * B * G;
        const oC = heap.offset(cSeq) + s * B * H;
        const oTc = heap.offset(tcSeq) + s * B * H;
        const oCPrev = s === 0 ? heap.offset(c0) : heap.offset(cSeq) + (s - 1) * B * H;
        if (simd !== undefined) {
          // Byte offsets, one call per batch row (the gates of a row are four runs of H units).
          for (let b = 0; b < B; b++) {
            const x4 = (oXw + (b * T + t) * G) * 4;
            const r4 = (oRec + b * G) * 4;
            const g4 = (oGates + b * G) * 4;
            const h4 = H * 4;
            simd.lstmForward(
              x4, x4 + h4, x4 + 2 * h4, x4 + 3 * h4,
              r4, r4 + h4, r4 + 2 * h4, r4 + 3 * h4,
              (oCPrev + b * H) * 4,
              g4, g4 + h4, g4 + 2 * h4, g4 + 3 * h4,
              (oC + b * H) * 4, (oTc + b * H) * 4, (oH + b * H) * 4, (oY + (b * T + s) * H) * 4,
              H,
            );
          }
        }
        for (let b = 0; b < (simd === undefined ? B : 0); b++) {
          const zRow = oGates + b * G;
          const xRow = oXw + (b * T + t) * G;
          const rRow = oRec + b * G;
          for (let k = 0; k < G; k++) {
            f32[zRow + k] = f32[xRow + k]! + f32[rRow + k]!;
          }
          activateRange(ract, f32, zRow, zRow + 2 * H);
          activateRange(act, f32, zRow + 2 * H, zRow + 3 * H);
          activateRange(ract, f32, zRow + 3 * H, zRow + G);
          const cRow = oC + b * H;
          const tcRow = oTc + b * H;
          const cPrevRow = oCPrev + b * H;
          for (let j = 0; j < H; j++) {
            const c = f32[zRow + H + j]! * f32[cPrevRow + j]! + f32[zRow + j]! * f32[zRow + 2 * H + j]!;
            f32[cRow + j] = c;
            f32[tcRow + j] = c;
          }
          activateRange(act, f32, tcRow, tcRow + H);
          const hRow = oH + b * H;
          const yRow = oY + (b * T + s) * H;
          for (let j = 0; j < H; j++) {
            const h = f32[zRow + 3 * H + j]! * f32[tcRow + j]!;
            f32[hRow + j] = h;
            f32[yRow + j] = h;
          }
        }
        heap.free(rec);
        if (s > 0) heap.free(hPrev);
        hPrev = hNext;
      }
      const f32 = heap.f32();
      const oLastC = heap.offset(cSeq) + (T - 1) * B * H;
      copyFloats(heap, hLast, hPrev, B * H);
      f32.copyWithin(heap.offset(cLast), oLastC, oLastC + B * H);
      return outputs;
    });
  });
}

/**
 * The backward kernel. Inputs: the output gradients `dy` [B,T,H], `dhLast`, `dcLast` [B,H]; the forward inputs `x`,
 * `kernel`, `recurrentKernel`, `h0`, `c0`; the forward outputs `y`, `gates`, `cSeq`, `tcSeq`. Same attrs as the
 * forward kernel. Outputs `dZ` [B,T,4H] (the gradient of the gate pre-activations, from which the registered gradient
 * computes dx = dZ·Wᵀ when it is needed), `dKernel` [D,4H], `dRecurrentKernel` [H,4H], `dBias` [4H], `dh0`, `dc0` [B,H].
 */
export function createLstmSequenceGradKernel(native: RecurrentNativeKernels, copies: () => TwoThreadCopies): KernelFunc {
  const name = LSTM_SEQUENCE_GRAD;
  return toKernelFunc((args) => {
    const keys = ['dy', 'dhLast', 'dcLast', 'x', 'kernel', 'recurrentKernel', 'h0', 'c0', 'y', 'gates', 'cSeq', 'tcSeq'] as const;
    const { inputs, geometry: g } = sequenceInputs(args, name, 4, keys, ({ batch: B, steps: T, units: H, inputDim: D, gateWidth: G }) => [
      ['dy', [B, T, H]],
      ['y', [B, T, H]],
      ['gates', [T, B, G]],
      ['dhLast', [B, H]],
      ['dcLast', [B, H]],
      ['h0', [B, H]],
      ['c0', [B, H]],
      ['cSeq', [T, B, H]],
      ['tcSeq', [T, B, H]],
      ['kernel', [D, G]],
    ]);
    const { dy, dhLast, dcLast, x, recurrentKernel, h0, c0, y, gates, cSeq, tcSeq } = inputs;
    const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G, act, ract } = g;
    const { backend } = args;
    return onRecurrentHeap(backend, native, (heap, outputs) => {
      const dZ = heap.temp([1, B * T, G]); // rows aligned with x's [B·T] rows
      const dh0 = heap.temp([B, H]);
      const dc0 = heap.temp([B, H]);
      const simd = gatePasses(backend, act, ract);
      const saved = { dy, dhLast, dcLast, x, recurrentKernel, h0, c0, y, gates, cSeq, tcSeq };
      const release = (dKernel: TensorInfo, dRecurrent: TensorInfo, dBias: TensorInfo): TensorInfo[] => {
        outputs.push(heap.release(dZ, [B, T, G]), dKernel, dRecurrent, dBias, heap.release(dh0, [B, H]), heap.release(dc0, [B, H]));
        return outputs;
      };
      const weights = { dKernel: heap.temp([D, G]), dRecurrent: heap.temp([H, G]), dBias: heap.temp([G]) };
      if (simd !== undefined && onTwoThreadGemm((gemm) => lstmBackwardOnTwoThreads(gemm, heap, g, saved, { dZ, dh0, dc0, ...weights }, copies()))) {
        return release(heap.release(weights.dKernel, [D, G]), heap.release(weights.dRecurrent, [H, G]), heap.release(weights.dBias, [G]));
      }
      // The forward may have left its gates, c and activation(c) in the two-thread GEMM's shared memory (its worker
      // stopped, or the SIMD passes were turned off, since): copied out before this route reads them.
      flushDeferredCopies();
      for (const info of Object.values(weights)) heap.free(info);
      const hPrevAll = heap.temp([1, B * T, H]); // h₋₁ of the step that read each x row
      backpropagateOnOneThread(heap, g, saved, simd, { dZ, hPrevAll, dh0, dc0 });
      const [dKernel, dBias] = weightGradients(heap, { x, dZ, B, T, D, G });
      return release(dKernel, heap.settle(heap.matMulTransposedA(hPrevAll, dZ, B * T, H), [H, G]), dBias);
    });
  });
}

/**
 * Backpropagation through time on the calling thread, on tfjs' heap (where the two-thread route does not run): per
 * step from the last, the gate gradients (the SIMD passes, or JavaScript loops without SIMD), then dh₋₁ = dz·Uᵀ on
 * XNNPACK. Fills `out` as {@link lstmBackwardOnTwoThreads} does.
 */
function backpropagateOnOneThread(
  heap: RecurrentHeap,
  g: SequenceGeometry,
  saved: LstmBackwardInputs,
  simd: GatePasses | undefined,
  out: { readonly dZ: TensorInfo; readonly hPrevAll: TensorInfo; readonly dh0: TensorInfo; readonly dc0: TensorInfo },
): void {
  const { batch: B, steps: T, units: H, gateWidth: G, act, ract } = g;
  const { dy, dhLast, dcLast, recurrentKernel, h0, c0, y, gates, cSeq, tcSeq } = saved;
  const { dZ, hPrevAll } = out;
    const uT = heap.transposed(recurrentKernel, H, G); // [1, 4H, H]
    // The carried gradients live on the heap: dc (updated in place) and dh₊₁ (the previous step's dz·Uᵀ).
    const dc = heap.copy(dcLast, [B, H]);
    let dhNext: TensorInfo = dhLast;
    for (let s = T - 1; s >= 0; s--) {
      const t = timeIndex(g, s);
      const dzStep = heap.temp([1, B, G]);
      const f32 = heap.f32();
      const oDy = heap.offset(dy);
      const oY = heap.offset(y);
      const oH0 = heap.offset(h0);
      const oGates = heap.offset(gates) + s * B * G;
      const oTc = heap.offset(tcSeq) + s * B * H;
      const oCPrev = s === 0 ? heap.offset(c0) : heap.offset(cSeq) + (s - 1) * B * H;
      const oDzStep = heap.offset(dzStep);
      const oDz = heap.offset(dZ);
      const oHPrevAll = heap.offset(hPrevAll);
      const oDc = heap.offset(dc);
      const oDhNext = heap.offset(dhNext);
      for (let b = 0; b < B; b++) {
        const gRow = oGates + b * G;
        const dzRow = oDzStep + b * G;
        const dyRow = oDy + (b * T + s) * H;
        const tcRow = oTc + b * H;
        const cPrevRow = oCPrev + b * H;
        const dcRow = oDc + b * H;
        const dhRow = oDhNext + b * H;
        const row = b * T + t;
        const hSource = s === 0 ? oH0 + b * H : oY + (b * T + s - 1) * H;
        if (simd !== undefined) {
          const g4 = gRow * 4;
          const d4 = dzRow * 4;
          const z4 = (oDz + row * G) * 4;
          const h4 = H * 4;
          simd.lstmBackward(
            dyRow * 4, dhRow * 4, dcRow * 4,
            g4, g4 + h4, g4 + 2 * h4, g4 + 3 * h4, tcRow * 4, cPrevRow * 4, hSource * 4,
            d4, d4 + h4, d4 + 2 * h4, d4 + 3 * h4,
            z4, z4 + h4, z4 + 2 * h4, z4 + 3 * h4,
            (oHPrevAll + row * H) * 4, dcRow * 4,
            H,
          );
          continue;
        }
        for (let j = 0; j < H; j++) {
          const i = f32[gRow + j]!;
          const f = f32[gRow + H + j]!;
          const g = f32[gRow + 2 * H + j]!;
          const o = f32[gRow + 3 * H + j]!;
          const tc = f32[tcRow + j]!;
          const dh = f32[dyRow + j]! + f32[dhRow + j]!;
          const dcTotal = f32[dcRow + j]! + dh * o * derivative(act, tc);
          f32[dcRow + j] = dcTotal * f;
          f32[dzRow + j] = dcTotal * g * derivative(ract, i);
          f32[dzRow + H + j] = dcTotal * f32[cPrevRow + j]! * derivative(ract, f);
          f32[dzRow + 2 * H + j] = dcTotal * i * derivative(act, g);
          f32[dzRow + 3 * H + j] = dh * tc * derivative(ract, o);
        }
        f32.copyWithin(oDz + row * G, dzRow, dzRow + G);
        f32.copyWithin(oHPrevAll + row * H, hSource, hSource + H);
      }
      const dhRec = heap.matMul(dzStep, uT);
      if (dhNext !== dhLast) heap.free(dhNext);
      dhNext = dhRec;
      heap.free(dzStep);
    }
  copyFloats(heap, out.dh0, dhNext, B * H);
  copyFloats(heap, out.dc0, dc, B * H);
}
