/**
 * tfjs-layers' GRU over a whole sequence as two wasm kernels (forward, and backpropagation through time), built like
 * the LSTM's (see `lstm-sequence-kernels.ts` for why).
 *
 * Formulation (tfjs-layers' GRUCell: the reset gate applied before the recurrent product, tfjs has no `resetAfter`):
 * [xz, xr, xh] = x·W + b; z = recurrentActivation(xz + h₋₁·U_z); r = recurrentActivation(xr + h₋₁·U_r);
 * hh = activation(xh + (r·h₋₁)·U_h); h = z·h₋₁ + (1 − z)·hh, with U = [U_z | U_r | U_h] along the last axis.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { toKernelFunc } from '../kernels/wasm-kernel-types.js';
import { onTwoThreadGemm } from '../gemm/gemm-mat-mul.js';
import { gatePasses } from './gate-simd.js';
import { gruBackwardOnTwoThreads, gruForwardOnTwoThreads } from './gru-two-threads.js';
import type { TwoThreadCopies } from './two-thread-workspace.js';
import { activateRange, derivative, type RecurrentHeap, type RecurrentNativeKernels, viewAs } from './recurrent-heap.js';
import { copyFloats, inputProjection, onRecurrentHeap, sequenceInputs, timeIndex, weightGradients } from './sequence-kernel-frame.js';

export const GRU_SEQUENCE = 'FitstreamGRUSequence';
export const GRU_SEQUENCE_GRAD = 'FitstreamGRUSequenceGrad';

/** Copies columns [from, from + width) of the [H, 3H] recurrent kernel into a [1, H, width] buffer of its own. */
function columns(heap: RecurrentHeap, u: TensorInfo, H: number, from: number, width: number): TensorInfo {
  const out = heap.temp([1, H, width]);
  const f32 = heap.f32();
  const oU = heap.offset(u);
  const oOut = heap.offset(out);
  for (let row = 0; row < H; row++) {
    f32.copyWithin(oOut + row * width, oU + row * 3 * H + from, oU + row * 3 * H + from + width);
  }
  return out;
}

/**
 * The forward kernel. Inputs `x` [B,T,D], `kernel` [D,3H], `recurrentKernel` [H,3H], optional `bias` [3H], `h0`
 * [B,H]; attrs `activation`, `recurrentActivation`, `goBackwards`. Outputs `y` [B,T,H] (processing order), `hLast`
 * [B,H], and for the backward kernel `gates` [T,B,3H] (z, r, hh) and `rh` [T,B,H] (r·h₋₁).
 */
export function createGruSequenceKernel(native: RecurrentNativeKernels): KernelFunc {
  const name = GRU_SEQUENCE;
  return toKernelFunc((args) => {
    const { inputs, bias, geometry: g } = sequenceInputs(args, name, 3, ['x', 'kernel', 'recurrentKernel', 'h0'], (g) => [
      ['kernel', [g.inputDim, g.gateWidth]],
      ['h0', [g.batch, g.units]],
    ]);
    const { x, kernel, recurrentKernel, h0 } = inputs;
    const { batch: B, steps: T, units: H, gateWidth: G, act, ract } = g;
    const { backend } = args;
    return onRecurrentHeap(backend, native, (heap, outputs) => {
      const xw = inputProjection(heap, g, x, kernel, bias);
      const y = heap.output([B, T, H]);
      const hLast = heap.output([B, H]);
      const gates = heap.output([T, B, G]);
      const rh = heap.output([T, B, H]);
      outputs.push(y, hLast, gates, rh);
      const simd = gatePasses(backend, act, ract);
      if (simd !== undefined && onTwoThreadGemm((gemm) => gruForwardOnTwoThreads(gemm, heap, g, { xw, recurrentKernel, h0 }, { y, hLast, gates, rh }))) {
        return outputs;
      }
      // Two recurrent products per step, unlike the LSTM's one: r must be known before (r·h₋₁)·U_h.
      const uZr = columns(heap, recurrentKernel, H, 0, 2 * H);
      const uH = columns(heap, recurrentKernel, H, 2 * H, H);
      let hPrev = viewAs(h0, [1, B, H]);
      for (let s = 0; s < T; s++) {
        const t = timeIndex(g, s);
        const recZr = heap.matMul(hPrev, uZr);
        const rhStep = heap.temp([1, B, H]);
        let f32 = heap.f32();
        const oXw = heap.offset(xw);
        const oHPrev = heap.offset(hPrev);
        const oGates = heap.offset(gates) + s * B * G;
        const oRh = heap.offset(rh) + s * B * H;
        let oRec = heap.offset(recZr);
        const oRhStep = heap.offset(rhStep);
        for (let b = 0; b < B; b++) {
          const gRow = oGates + b * G;
          const xRow = oXw + (b * T + t) * G;
          const rRow = oRec + b * 2 * H;
          if (simd !== undefined) {
            simd.gruForwardGates(xRow * 4, (xRow + H) * 4, rRow * 4, (rRow + H) * 4, (oHPrev + b * H) * 4, gRow * 4, (gRow + H) * 4, (oRhStep + b * H) * 4, (oRh + b * H) * 4, H);
            continue;
          }
          for (let k = 0; k < 2 * H; k++) {
            f32[gRow + k] = f32[xRow + k]! + f32[rRow + k]!;
          }
          activateRange(ract, f32, gRow, gRow + 2 * H);
          for (let j = 0; j < H; j++) {
            const v = f32[gRow + H + j]! * f32[oHPrev + b * H + j]!;
            f32[oRhStep + b * H + j] = v;
            f32[oRh + b * H + j] = v;
          }
        }
        heap.free(recZr);
        const recH = heap.matMul(rhStep, uH);
        const hNext = heap.temp([1, B, H]);
        f32 = heap.f32();
        oRec = heap.offset(recH);
        const oHNext = heap.offset(hNext);
        const oY = heap.offset(y);
        for (let b = 0; b < B; b++) {
          const gRow = oGates + b * G;
          const xRow = oXw + (b * T + t) * G;
          if (simd !== undefined) {
            simd.gruForwardOutput((xRow + 2 * H) * 4, (oRec + b * H) * 4, gRow * 4, (oHPrev + b * H) * 4, (gRow + 2 * H) * 4, (oHNext + b * H) * 4, (oY + (b * T + s) * H) * 4, H);
            continue;
          }
          for (let j = 0; j < H; j++) {
            f32[gRow + 2 * H + j] = f32[xRow + 2 * H + j]! + f32[oRec + b * H + j]!;
          }
          activateRange(act, f32, gRow + 2 * H, gRow + G);
          for (let j = 0; j < H; j++) {
            const z = f32[gRow + j]!;
            const hh = f32[gRow + 2 * H + j]!;
            const h = z * f32[oHPrev + b * H + j]! + (1 - z) * hh;
            f32[oHNext + b * H + j] = h;
            f32[oY + (b * T + s) * H + j] = h;
          }
        }
        heap.free(recH);
        heap.free(rhStep);
        if (s > 0) heap.free(hPrev);
        hPrev = hNext;
      }
      copyFloats(heap, hLast, hPrev, B * H);
      return outputs;
    });
  });
}

/**
 * The backward kernel. Inputs: `dy` [B,T,H], `dhLast` [B,H]; the forward inputs `x`, `kernel`, `recurrentKernel`,
 * `h0`; the forward outputs `y`, `gates`, `rh`. Same attrs as the forward kernel. Outputs `dZ` [B,T,3H] (see the LSTM's), `dKernel`
 * [D,3H], `dRecurrentKernel` [H,3H], `dBias` [3H], `dh0` [B,H].
 */
export function createGruSequenceGradKernel(native: RecurrentNativeKernels, copies: () => TwoThreadCopies): KernelFunc {
  const name = GRU_SEQUENCE_GRAD;
  return toKernelFunc((args) => {
    const keys = ['dy', 'dhLast', 'x', 'kernel', 'recurrentKernel', 'h0', 'y', 'gates', 'rh'] as const;
    const { inputs, geometry: g } = sequenceInputs(args, name, 3, keys, ({ batch: B, steps: T, units: H, inputDim: D, gateWidth: G }) => [
      ['dy', [B, T, H]],
      ['y', [B, T, H]],
      ['dhLast', [B, H]],
      ['h0', [B, H]],
      ['gates', [T, B, G]],
      ['rh', [T, B, H]],
      ['kernel', [D, G]],
    ]);
    const { dy, dhLast, x, recurrentKernel, h0, y, gates, rh } = inputs;
    const { batch: B, steps: T, inputDim: D, units: H, gateWidth: G, act, ract } = g;
    const { backend } = args;
    return onRecurrentHeap(backend, native, (heap, outputs) => {
      const simd = gatePasses(backend, act, ract);
      if (simd !== undefined) {
        const out = { dZ: heap.temp([B * T, G]), dKernel: heap.temp([D, G]), dRecurrent: heap.temp([H, G]), dBias: heap.temp([G]), dh0: heap.temp([B, H]) };
        if (onTwoThreadGemm((gemm) => gruBackwardOnTwoThreads(gemm, heap, g, { dy, dhLast, x, recurrentKernel, h0, y, gates, rh }, out, copies()))) {
          outputs.push(heap.release(out.dZ, [B, T, G]), heap.release(out.dKernel, [D, G]), heap.release(out.dRecurrent, [H, G]));
          outputs.push(heap.release(out.dBias, [G]), heap.release(out.dh0, [B, H]));
          return outputs;
        }
        for (const info of Object.values(out)) heap.free(info);
      }
      const uZrT = heap.transposed(columns(heap, recurrentKernel, H, 0, 2 * H), H, 2 * H); // [1, 2H, H]
      const uHT = heap.transposed(columns(heap, recurrentKernel, H, 2 * H, H), H, H); // [1, H, H]
      const dZ = heap.temp([1, B * T, G]);
      const dZr = heap.temp([1, B * T, 2 * H]);
      const dZh = heap.temp([1, B * T, H]);
      const hPrevAll = heap.temp([1, B * T, H]);
      const rhAll = heap.temp([1, B * T, H]);
      // Carried on the heap: dh₊₁, and per step the h₋₁ gradient so far and z's pre-activation gradient.
      const dhNext = heap.copy(dhLast, [B, H]);
      const dhPrev = heap.temp([B, H]);
      const dzGate = heap.temp([B, H]);
      for (let s = T - 1; s >= 0; s--) {
        const t = timeIndex(g, s);
        const dAh = heap.temp([1, B, H]);
        let f32 = heap.f32();
        const oDy = heap.offset(dy);
        const oGates = heap.offset(gates) + s * B * G;
        const oY = heap.offset(y);
        const oH0 = heap.offset(h0);
        const oDAh = heap.offset(dAh);
        const oDhNext = heap.offset(dhNext);
        const oDhPrev = heap.offset(dhPrev);
        const oDzGate = heap.offset(dzGate);
        const oDZ = heap.offset(dZ);
        const oDZr = heap.offset(dZr);
        const oDZh = heap.offset(dZh);
        const hPrevRow = (b: number): number => (s === 0 ? oH0 + b * H : oY + (b * T + s - 1) * H);
        for (let b = 0; b < B; b++) {
          const gRow = oGates + b * G;
          const dyRow = oDy + (b * T + s) * H;
          const hpRow = hPrevRow(b);
          const row = b * T + t;
          const k0 = b * H;
          if (simd !== undefined) {
            simd.gruBackwardOutput(
              dyRow * 4, (oDhNext + k0) * 4, gRow * 4, (gRow + 2 * H) * 4, hpRow * 4,
              (oDhPrev + k0) * 4, (oDzGate + k0) * 4, (oDAh + k0) * 4, (oDZ + row * G + 2 * H) * 4, (oDZh + row * H) * 4,
              H,
            );
            continue;
          }
          for (let j = 0; j < H; j++) {
            const z = f32[gRow + j]!;
            const hh = f32[gRow + 2 * H + j]!;
            const hp = f32[hpRow + j]!;
            const dh = f32[dyRow + j]! + f32[oDhNext + k0 + j]!;
            f32[oDhPrev + k0 + j] = dh * z;
            f32[oDzGate + k0 + j] = dh * (hp - hh) * derivative(ract, z);
            f32[oDAh + k0 + j] = dh * (1 - z) * derivative(act, hh);
          }
          f32.copyWithin(oDZ + row * G + 2 * H, oDAh + k0, oDAh + k0 + H);
          f32.copyWithin(oDZh + row * H, oDAh + k0, oDAh + k0 + H);
        }
        const dRh = heap.matMul(dAh, uHT);
        const dZrStep = heap.temp([1, B, 2 * H]);
        f32 = heap.f32();
        const oDRh = heap.offset(dRh);
        const oDZrStep = heap.offset(dZrStep);
        const oHPrevAll = heap.offset(hPrevAll);
        const oRhAll = heap.offset(rhAll);
        const oRh = heap.offset(rh) + s * B * H;
        for (let b = 0; b < B; b++) {
          const gRow = oGates + b * G;
          const hpRow = hPrevRow(b);
          const stepRow = oDZrStep + b * 2 * H;
          const row = b * T + t;
          const k0 = b * H;
          if (simd !== undefined) {
            simd.gruBackwardGates(
              (oDRh + k0) * 4, (gRow + H) * 4, hpRow * 4, (oDhPrev + k0) * 4, (oDzGate + k0) * 4, (oRh + k0) * 4,
              (oDhPrev + k0) * 4, stepRow * 4, (stepRow + H) * 4, (oDZ + row * G) * 4, (oDZ + row * G + H) * 4,
              (oDZr + row * 2 * H) * 4, (oDZr + row * 2 * H + H) * 4, (oHPrevAll + row * H) * 4, (oRhAll + row * H) * 4,
              H,
            );
            continue;
          }
          for (let j = 0; j < H; j++) {
            const k = k0 + j;
            const r = f32[gRow + H + j]!;
            const dRhValue = f32[oDRh + k]!;
            f32[oDhPrev + k] = f32[oDhPrev + k]! + dRhValue * r;
            f32[stepRow + j] = f32[oDzGate + k]!;
            f32[stepRow + H + j] = dRhValue * f32[hpRow + j]! * derivative(ract, r);
          }
          f32.copyWithin(oDZ + row * G, stepRow, stepRow + 2 * H);
          f32.copyWithin(oDZr + row * 2 * H, stepRow, stepRow + 2 * H);
          f32.copyWithin(oHPrevAll + row * H, hpRow, hpRow + H);
          f32.copyWithin(oRhAll + row * H, oRh + k0, oRh + k0 + H);
        }
        heap.free(dRh);
        heap.free(dAh);
        const dhRec = heap.matMul(dZrStep, uZrT);
        const oRec = heap.offset(dhRec);
        if (simd !== undefined) {
          simd.addInto(oDhPrev * 4, oRec * 4, oDhNext * 4, B * H);
        } else {
          f32 = heap.f32();
          for (let k = 0; k < B * H; k++) {
            f32[oDhNext + k] = f32[oDhPrev + k]! + f32[oRec + k]!;
          }
        }
        heap.free(dhRec);
        heap.free(dZrStep);
      }
      const [dKernel, dBias] = weightGradients(heap, { x, dZ, B, T, D, G });
      outputs.push(heap.release(dZ, [B, T, G]), dKernel);
      const dUzr = heap.matMulTransposedA(hPrevAll, dZr, B * T, H); // [1, H, 2H]
      const dUh = heap.matMulTransposedA(rhAll, dZh, B * T, H); // [1, H, H]
      const dRecurrent = heap.output([H, G]);
      outputs.push(dRecurrent, dBias);
      const f32 = heap.f32();
      const oOut = heap.offset(dRecurrent);
      const oZr = heap.offset(dUzr);
      const oH = heap.offset(dUh);
      for (let row = 0; row < H; row++) {
        f32.copyWithin(oOut + row * G, oZr + row * 2 * H, oZr + (row + 1) * 2 * H);
        f32.copyWithin(oOut + row * G + 2 * H, oH + row * H, oH + (row + 1) * H);
      }
      const dh0 = heap.output([B, H]);
      outputs.push(dh0);
      copyFloats(heap, dh0, dhNext, B * H);
      return outputs;
    });
  });
}
