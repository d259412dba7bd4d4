/**
 * Loops of the convolutional training step as WebAssembly SIMD functions on the tfjs wasm heap, four f32 lanes
 * (channels) at a time:
 *
 * - `maxPool2x2` and `maxPoolGrad2x2`: the 2×2 / stride-2 max pool (the common `maxPooling2d({ poolSize: 2 })`) and
 *   its gradient, every window read and every output written once (max-pool.ts, max-pool-grad.ts);
 * - `sumRows`: the sum over the leading axes of a `[rows, C]` tensor (the bias gradients of conv and dense layers),
 *   each channel summed sequentially in float32 like the stock kernel, without its transpose; `reluMaskSumRows` the
 *   same sum of relu's gradient, written out as it is summed (conv2d-bias-activation.ts);
 * - `copyRows`: strided rows to strided rows (the im2col rows of conv2d-backprop-filter.ts, zero-padded images,
 *   a narrow product's padded rows packed);
 * - `channelAffine`: out = u·p − (v − m)·q + t with per-channel p, m, q, t (batch normalisation's output and its input
 *   gradient, batch-norm-training.ts);
 * - `addRows`: a per-channel vector added to every row (a conv layer's bias in training, add-channel-bias.ts).
 *
 * Why by hand: the scalar JavaScript loop of max-pool-grad.ts costs ≈ 10 ns per input element on this machine (7.5 ms
 * of a 43 ms small-CNN step) and the stock kernel is slower still (and wrong on non-square inputs); the stock `Sum`
 * transposes the whole tensor first. Both loops need strided addressing, which the project's elementwise SIMD
 * assembler (wasm-assembly/, streams advancing in lockstep) does not express, so this module encodes its two
 * functions directly; no WebAssembly toolchain is part of the build. `WebAssembly.validate` checks the bytes.
 *
 * maxPoolGrad2x2(x, dy, dx, rows, outWidth, rowC, rowW): heap byte offsets of x, dy and dx; rows = batch·outHeight;
 * rowC = C·4 bytes (C a multiple of 4); rowW = W·C·4 bytes, one input row (H = 2·outHeight, W = 2·outWidth, so dx is
 * fully written). The cpu backend routes each dy to the first maximum of its window in scan order (a, b, c, d) =
 * ((0,0), (0,1), (1,0), (1,1)), and to none when every value is −∞. Per lane that is
 *
 *   a wins ⇔ a ≥ max(b, c, d);  b ⇔ b > a ∧ b ≥ max(c, d);  c ⇔ c > max(a, b) ∧ c ≥ d;  d ⇔ d > max(a, b, c)
 *
 * and g = dy masked by max(a, b, c, d) > −∞; each output is `v128.and(g, mask)` — exactly dy or +0, as on the cpu.
 * (A window holding NaN can differ from the cpu backend, which skips NaN. The maxima are `f32x4.pmax`, b < a ? a : b,
 * one x86 instruction: max(a, b, c, d) itself never decides a route, only the comparisons, which treat ±0 alike, so
 * every window without NaN routes as on the cpu; the SIMD gradient took 0.50 → 0.32 ms per small-CNN step with it,
 * the forward pool 0.21 → 0.16.)
 *
 * maxPool2x2(x, y, rows, outWidth, rowC, rowW): the forward pool of the same geometry, y (`[rows, outWidth, C]`)
 * = pmax(pmax(a, b), pmax(c, d)) per lane — the window's maximum, as XNNPACK's and the cpu backend's (but for the sign
 * of a zero maximum, and a NaN, which pmax keeps or drops by its position).
 *
 * sumRows(x, out, rows, rowC): out[c] = ((0 + x[0,c]) + x[1,c]) + … over `rows` rows of rowC = C·4 bytes (C a multiple
 * of 4).
 *
 * reluMaskSumRows(dy, y, dz, sum, rows, rowC): dz = dy where y > 0, else +0 (relu's gradient from its output), and
 * sum[c] = ((0 + dz[0,c]) + dz[1,c]) + … — the bias gradient of a conv layer with relu, in one pass (sumRows' order).
 *
 * copyRows(src, dst, rows, rowBytes, srcStride, dstStride): `rows` rows of rowBytes (≥ 16, a multiple of 4) bytes, row
 * r read at src + r·srcStride and written at dst + r·dstStride; 16-byte vectors, the last one overlapping the one
 * before (so a row's bytes are all that is written: rows may be packed tighter than they are read, or padded apart).
 *
 * channelAffine(u, v, out, params, rows, rowC): for every row r and channel c (rowC = C·4 bytes, C a multiple of 4),
 * out = ((u·p) − ((v − m)·q)) + t in float32, with p, m, q, t the four consecutive C-float arrays at params.
 *
 * addRows(x, b, out, rows, rowC): out[r, c] = x[r, c] + b[c] in float32 for `rows` rows of rowC = C·4 bytes (C a
 * multiple of 4) — a channel bias added to an activation (add-channel-bias.ts); `out` may be `x`.
 *
 * addRowsRelu(x, b, out, rows, rowC): the same sums, +0 where a sum is below zero — a fused product's bias and relu
 * (gemm/products.ts).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
// The building blocks weight-gradient-simd.ts uses too (the duplicates listing pairs the two import lists).
import {
  BLOCK_LOOP,
  BR_IF,
  doWhile,
  END,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SUB,
  get,
  heapLoops,
  I32_ADD,
  I32_CONST,
  I32_MUL,
  I32_SHL,
  i32s,
  increment,
  set,
  V128_LOAD,
  V128_STORE,
  V128_ZERO,
} from '../wasm-assembly/heap-loops.js';
import { EMPTY_BLOCK as EMPTY, I32, simd, uleb, V128, vec } from '../wasm-assembly/wasm-binary.js';

const F32X4_GT = simd(0x44);
const F32X4_GE = simd(0x46);
const V128_AND = simd(0x4e);
/**
 * f32x4.pmax: b < a ? a : b per lane — one x86 `maxps`, where `f32x4.max` (IEEE maximum: NaN and −0 rules) takes V8
 * nine instructions. The pools' results differ from it only for NaN and the sign of a zero maximum (see above).
 */
const F32X4_PMAX = simd(0xeb);
/** v128.const with four f32 −∞ (0xff800000, little-endian). */
const NEG_INF = [...simd(0x0c), ...Array.from({ length: 4 }, () => [0x00, 0x00, 0x80, 0xff]).flat()];

// Locals: parameters 0–6, then i32 r j k xp dp yp off, then v128 a b c d g m t.
const [X, DY, DX, ROWS, OW, ROWC, ROWW] = [0, 1, 2, 3, 4, 5, 6];
const [R, J, K, XP, DP, YP, OFF] = [7, 8, 9, 10, 11, 12, 13];
const [A, B, C, D, G, M, T] = [14, 15, 16, 17, 18, 19, 20];
/** base + Σ extra + k (byte address of a window position or dx element). */
const address = (base: number, ...extra: number[]): number[] => [...get(base), ...extra.flatMap((e) => [...get(e), I32_ADD]), ...get(K), I32_ADD];

function maxPoolBody(): number[] {
  const window = [
    ...address(XP), ...V128_LOAD, ...set(A),
    ...address(XP, ROWC), ...V128_LOAD, ...set(B),
    ...address(XP, ROWW), ...V128_LOAD, ...set(C),
    ...address(XP, ROWW, ROWC), ...V128_LOAD, ...set(D),
    ...get(A), ...get(B), ...F32X4_PMAX, ...set(M), // m = max(a, b)
    ...get(C), ...get(D), ...F32X4_PMAX, ...set(T), // t = max(c, d)
    // g = dy where max(a, b, c, d) > −∞
    ...get(YP), ...V128_LOAD, ...get(M), ...get(T), ...F32X4_PMAX, ...NEG_INF, ...F32X4_GT, ...V128_AND, ...set(G),
    // dx_a = g & (a ≥ max(b, t))
    ...address(DP), ...get(G), ...get(A), ...get(B), ...get(T), ...F32X4_PMAX, ...F32X4_GE, ...V128_AND, ...V128_STORE,
    // dx_b = g & (b > a) & (b ≥ t)
    ...address(DP, ROWC), ...get(G), ...get(B), ...get(A), ...F32X4_GT, ...V128_AND, ...get(B), ...get(T), ...F32X4_GE, ...V128_AND, ...V128_STORE,
    // dx_c = g & (c > m) & (c ≥ d)
    ...address(DP, ROWW), ...get(G), ...get(C), ...get(M), ...F32X4_GT, ...V128_AND, ...get(C), ...get(D), ...F32X4_GE, ...V128_AND, ...V128_STORE,
    // dx_d = g & (d > max(m, c))
    ...address(DP, ROWW, ROWC), ...get(G), ...get(D), ...get(M), ...get(C), ...F32X4_PMAX, ...F32X4_GT, ...V128_AND, ...V128_STORE,
    ...increment(YP, [I32_CONST, 16]),
    ...increment(K, [I32_CONST, 16]),
  ];
  const perOutputColumn = [
    I32_CONST, 0, ...set(K),
    ...doWhile(K, ROWC, window),
    // skip the window's second column: xp, dp += 2·rowC
    ...increment(XP, [...get(ROWC), I32_CONST, 1, I32_SHL]),
    ...increment(DP, [...get(ROWC), I32_CONST, 1, I32_SHL]),
    ...increment(J, [I32_CONST, 1]),
  ];
  const perOutputRow = [
    // off = r·2·rowW; xp = x + off; dp = dx + off
    ...get(R), ...get(ROWW), I32_MUL, I32_CONST, 1, I32_SHL, ...set(OFF),
    ...get(X), ...get(OFF), I32_ADD, ...set(XP),
    ...get(DX), ...get(OFF), I32_ADD, ...set(DP),
    I32_CONST, 0, ...set(J),
    ...doWhile(J, OW, perOutputColumn),
    ...increment(R, [I32_CONST, 1]),
  ];
  const code = [I32_CONST, 0, ...set(R), ...get(DY), ...set(YP), ...doWhile(R, ROWS, perOutputRow), END];
  const entry = [...vec([[...uleb(7), I32], [...uleb(7), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// maxPool2x2 locals: parameters x, y, rows, ow, rowC, rowW (0–5), then i32 r j k xp yp (6–10).
function maxPoolForwardBody(): number[] {
  const [PX, PY, PROWS, POW, PROWC, PROWW] = [0, 1, 2, 3, 4, 5];
  const [PR, PJ, PK, PXP, PYP] = [6, 7, 8, 9, 10];
  const at = (...extra: number[]): number[] => [...get(PXP), ...extra.flatMap((e) => [...get(e), I32_ADD]), ...get(PK), I32_ADD, ...V128_LOAD];
  const window = [
    ...get(PYP),
    ...at(), ...at(PROWC), ...F32X4_PMAX, ...at(PROWW), ...at(PROWW, PROWC), ...F32X4_PMAX, ...F32X4_PMAX,
    ...V128_STORE,
    ...increment(PYP, [I32_CONST, 16]),
    ...increment(PK, [I32_CONST, 16]),
  ];
  const perOutputColumn = [I32_CONST, 0, ...set(PK), ...doWhile(PK, PROWC, window), ...increment(PXP, [...get(PROWC), I32_CONST, 1, I32_SHL]), ...increment(PJ, [I32_CONST, 1])];
  const perOutputRow = [
    // xp = x + r·2·rowW
    ...get(PX), ...get(PR), ...get(PROWW), I32_MUL, I32_CONST, 1, I32_SHL, I32_ADD, ...set(PXP),
    I32_CONST, 0, ...set(PJ),
    ...doWhile(PJ, POW, perOutputColumn),
    ...increment(PR, [I32_CONST, 1]),
  ];
  const code = [I32_CONST, 0, ...set(PR), ...get(PY), ...set(PYP), ...doWhile(PR, PROWS, perOutputRow), END];
  const entry = [...vec([[...uleb(5), I32]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// sumRows locals: parameters x, out, rows, rowC (0–3), then i32 r k xp (4–6).
const [SX, SOUT, SROWS, SROWC, SR, SK, SXP] = [0, 1, 2, 3, 4, 5, 6];

function sumRowsBody(): number[] {
  const at = (base: number): number[] => [...get(base), ...get(SK), I32_ADD];
  const zero = [...at(SOUT), ...V128_ZERO, ...V128_STORE, ...increment(SK, [I32_CONST, 16])];
  const accumulate = [...at(SOUT), ...at(SOUT), ...V128_LOAD, ...at(SXP), ...V128_LOAD, ...F32X4_ADD, ...V128_STORE, ...increment(SK, [I32_CONST, 16])];
  const perRow = [I32_CONST, 0, ...set(SK), ...doWhile(SK, SROWC, accumulate), ...increment(SXP, get(SROWC)), ...increment(SR, [I32_CONST, 1])];
  const code = [
    I32_CONST, 0, ...set(SK), ...doWhile(SK, SROWC, zero),
    ...get(SX), ...set(SXP), I32_CONST, 0, ...set(SR),
    ...doWhile(SR, SROWS, perRow),
    END,
  ];
  const entry = [...vec([[...uleb(3), I32]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// reluMaskSumRows locals: parameters dy, y, dz, sum, rows, rowC (0–5), then i32 r k off (6–8), v128 d (9).
function reluMaskSumRowsBody(): number[] {
  const [MDY, MY, MDZ, MSUM, MROWS, MROWC, MR, MK, MOFF, MD] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const at = (base: number): number[] => [...get(base), ...get(MOFF), ...get(MK), I32_ADD, I32_ADD];
  const sumAt = [...get(MSUM), ...get(MK), I32_ADD];
  const zero = [...sumAt, ...V128_ZERO, ...V128_STORE, ...increment(MK, [I32_CONST, 16])];
  const element = [
    // d = dy where y > 0, else +0
    ...at(MDY), ...V128_LOAD, ...at(MY), ...V128_LOAD, ...V128_ZERO, ...F32X4_GT, ...V128_AND, ...set(MD),
    ...at(MDZ), ...get(MD), ...V128_STORE,
    ...sumAt, ...sumAt, ...V128_LOAD, ...get(MD), ...F32X4_ADD, ...V128_STORE,
    ...increment(MK, [I32_CONST, 16]),
  ];
  const perRow = [I32_CONST, 0, ...set(MK), ...doWhile(MK, MROWC, element), ...increment(MOFF, get(MROWC)), ...increment(MR, [I32_CONST, 1])];
  const code = [
    I32_CONST, 0, ...set(MK), ...doWhile(MK, MROWC, zero),
    I32_CONST, 0, ...set(MOFF), I32_CONST, 0, ...set(MR),
    ...doWhile(MR, MROWS, perRow),
    END,
  ];
  const entry = [...vec([[...uleb(3), I32], [...uleb(1), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// copyRows locals: parameters src, dst, rows, rowBytes, srcStride, dstStride (0–5), then i32 r k sp dp last (6–10).
const [CSRC, CDST, CROWS, CROWB, CSTRIDE, CDSTRIDE, CR, CK, CSP, CDP, CLAST] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const [BLOCK, BR, I32_GE_U, I32_SUB] = [0x02, 0x0c, 0x4f, 0x6b];

function copyRowsBody(): number[] {
  const copyAt = (k: number[]): number[] => [...get(CDP), ...k, I32_ADD, ...get(CSP), ...k, I32_ADD, ...V128_LOAD, ...V128_STORE];
  const perRow = [
    I32_CONST, 0, ...set(CK),
    // while (k < last) { copy 16 bytes at k; k += 16 }
    BLOCK, EMPTY, BLOCK_LOOP, EMPTY,
    ...get(CK), ...get(CLAST), I32_GE_U, BR_IF, 1,
    ...copyAt(get(CK)), ...increment(CK, [I32_CONST, 16]),
    BR, 0, END, END,
    ...copyAt(get(CLAST)),
    ...increment(CSP, get(CSTRIDE)),
    ...increment(CDP, get(CDSTRIDE)),
    ...increment(CR, [I32_CONST, 1]),
  ];
  const code = [
    ...get(CROWB), I32_CONST, 16, I32_SUB, ...set(CLAST),
    ...get(CSRC), ...set(CSP), ...get(CDST), ...set(CDP), I32_CONST, 0, ...set(CR),
    ...doWhile(CR, CROWS, perRow),
    END,
  ];
  const entry = [...vec([[...uleb(5), I32]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// channelAffine locals: parameters u, v, out, params, rows, rowC (0–5), then i32 r k up vp op (6–10).
const [AU, AV, AOUT, APAR, AROWS, AROWC, AR, AK, AUP, AVP, AOP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

function channelAffineBody(): number[] {
  const at = (base: number): number[] => [...get(base), ...get(AK), I32_ADD];
  /** params + n·rowC + k */
  const param = (n: number): number[] => [...get(APAR), ...(n === 0 ? [] : [...get(AROWC), I32_CONST, n, I32_MUL, I32_ADD]), ...get(AK), I32_ADD, ...V128_LOAD];
  const element = [
    ...at(AOP),
    ...at(AUP), ...V128_LOAD, ...param(0), ...F32X4_MUL,
    ...at(AVP), ...V128_LOAD, ...param(1), ...F32X4_SUB, ...param(2), ...F32X4_MUL,
    ...F32X4_SUB,
    ...param(3), ...F32X4_ADD,
    ...V128_STORE,
    ...increment(AK, [I32_CONST, 16]),
  ];
  const perRow = [
    I32_CONST, 0, ...set(AK), ...doWhile(AK, AROWC, element),
    ...increment(AUP, get(AROWC)), ...increment(AVP, get(AROWC)), ...increment(AOP, get(AROWC)),
    ...increment(AR, [I32_CONST, 1]),
  ];
  const code = [
    ...get(AU), ...set(AUP), ...get(AV), ...set(AVP), ...get(AOUT), ...set(AOP), I32_CONST, 0, ...set(AR),
    ...doWhile(AR, AROWS, perRow),
    END,
  ];
  const entry = [...vec([[...uleb(5), I32]]), ...code];
  return [...uleb(entry.length), ...entry];
}

// addRows locals: parameters x, b, out, rows, rowC (0–4), then i32 r k xp op (5–8), v128 v (9).
const [BX, BB, BOUT, BROWS, BROWC, BRI, BK, BXP, BOP, BV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const [F32X4_LT, V128_ANDNOT] = [simd(0x43), simd(0x4f)];

/** `addRows`, or with `relu` `addRowsRelu`: each sum s stored as is, or as +0 where s < 0 (relu; −0 and NaN kept). */
function addRowsBody(relu: boolean): number[] {
  const at = (base: number): number[] => [...get(base), ...get(BK), I32_ADD];
  const sum = [...at(BXP), ...V128_LOAD, ...at(BB), ...V128_LOAD, ...F32X4_ADD];
  // relu: v & ~(v < 0), the lanes below zero cleared to +0 (as `v < 0 ? 0 : v`)
  const value = relu ? [...sum, ...set(BV), ...get(BV), ...get(BV), ...V128_ZERO, ...F32X4_LT, ...V128_ANDNOT] : sum;
  const element = [...at(BOP), ...value, ...V128_STORE, ...increment(BK, [I32_CONST, 16])];
  const perRow = [
    I32_CONST, 0, ...set(BK), ...doWhile(BK, BROWC, element),
    ...increment(BXP, get(BROWC)), ...increment(BOP, get(BROWC)),
    ...increment(BRI, [I32_CONST, 1]),
  ];
  const code = [...get(BX), ...set(BXP), ...get(BOUT), ...set(BOP), I32_CONST, 0, ...set(BRI), ...doWhile(BRI, BROWS, perRow), END];
  const entry = [...vec([[...uleb(4), I32], [...uleb(1), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

type MaxPool2x2 = (x: number, y: number, rows: number, outWidth: number, rowC: number, rowW: number) => void;
type MaxPoolGrad2x2 = (x: number, dy: number, dx: number, rows: number, outWidth: number, rowC: number, rowW: number) => void;
type SumRows = (x: number, out: number, rows: number, rowC: number) => void;
type ReluMaskSumRows = (dy: number, y: number, dz: number, sum: number, rows: number, rowC: number) => void;
type CopyRows = (src: number, dst: number, rows: number, rowBytes: number, srcStride: number, dstStride: number) => void;
type ChannelAffine = (u: number, v: number, out: number, params: number, rows: number, rowC: number) => void;
type AddRows = (x: number, b: number, out: number, rows: number, rowC: number) => void;

/** The module's functions. */
export interface HeapSimdLoops {
  readonly maxPool2x2: MaxPool2x2;
  readonly maxPoolGrad2x2: MaxPoolGrad2x2;
  readonly sumRows: SumRows;
  readonly reluMaskSumRows: ReluMaskSumRows;
  readonly copyRows: CopyRows;
  readonly channelAffine: ChannelAffine;
  readonly addRows: AddRows;
  readonly addRowsRelu: AddRows;
}

const LOOPS = heapLoops<HeapSimdLoops>(() => [
  { name: 'maxPool2x2', params: i32s(6), code: maxPoolForwardBody() },
  { name: 'maxPoolGrad2x2', params: i32s(7), code: maxPoolBody() },
  { name: 'sumRows', params: i32s(4), code: sumRowsBody() },
  { name: 'reluMaskSumRows', params: i32s(6), code: reluMaskSumRowsBody() },
  { name: 'copyRows', params: i32s(6), code: copyRowsBody() },
  { name: 'channelAffine', params: i32s(6), code: channelAffineBody() },
  { name: 'addRows', params: i32s(5), code: addRowsBody(false) },
  { name: 'addRowsRelu', params: i32s(5), code: addRowsBody(true) },
]);

/** The SIMD functions bound to `backend`'s heap, or undefined where they cannot run (no SIMD, memory not found). */
export function heapSimdLoopsOf(backend: unknown): HeapSimdLoops | undefined {
  return LOOPS.of(backend);
}

/** `maxPoolGrad2x2` bound to `backend`'s heap, or undefined (see {@link heapSimdLoopsOf}). */
export function maxPoolGrad2x2Of(backend: unknown): MaxPoolGrad2x2 | undefined {
  return heapSimdLoopsOf(backend)?.maxPoolGrad2x2;
}

/** Byte offset of a tensor on the heap. */
export function heapOffset(backend: { typedArrayFromHeap(info: TensorInfo): { byteOffset: number } }, info: TensorInfo): number {
  return backend.typedArrayFromHeap(info).byteOffset;
}
