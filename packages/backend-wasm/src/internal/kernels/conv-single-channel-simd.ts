/**
 * Register-blocked WebAssembly SIMD loops for a stride-1 convolution with one input channel (a first layer on grey
 * images): its forward pass (conv2d-single-channel.ts) and its filter gradient (conv2d-backprop-filter.ts).
 *
 * With one input channel there is nothing for a GEMM to vectorise over in the inner dimension (it is KH·KW, e.g. 9),
 * and XNNPACK's convolution runs at ≈ 15 GFLOP/s on it; an accumulate-in-memory loop (load, multiply-add, store per
 * tap and four channels) is bound by its stores. These loops keep up to eight f32x4 accumulators in registers:
 *
 * - `grad{T}x{G}(x, dy, acc, outHeight, outWidth, rowC, rowP)`: for one image, taps t < T of one filter row (x points
 *   at the padded image shifted by the first tap) and channel groups g < G (four channels each; dy and acc point at
 *   the block's first channel): acc[t, g] += Σ over the output positions in row-major order of
 *   x[oh, ow + t] · dy[oh, ow, g]. The accumulators are loaded from acc first and stored back at the end, so each
 *   one sees the same additions, in the same order, as a loop that adds into memory one position at a time.
 *   Tap t of acc is at acc + t·rowC bytes (the filter gradient's [KH, KW, C] layout), dy's positions rowC apart.
 * - `conv{P}x{G}(x, w, out, rows, blocks, kh, kw, rowC, rowP, rowO, bias, relu)`: for `rows` output rows of one image
 *   and `blocks` blocks of P adjacent output columns, out[p, g] = Σ over the taps in row-major order of
 *   x[oh + i, ow + p + j] · w[i, j, g], from 0 — or from bias[g] where `bias` ≠ 0 — then max(·, 0) where `relu` ≠ 0.
 *   w `[KH, KW, 1, C]`, out and bias point at the block's first channel; taps and positions are rowC bytes apart,
 *   input rows rowP, output rows rowO.
 *
 * T ≤ 2 and G ≤ 4, P ≤ 2: eight accumulators at most. Twelve (3 taps × 4 groups) spill: V8's x64 code then took
 * 1.10 ms for the [64,28,28,1]→16 gradient against 0.56 ms with eight (and 1.0 ms for the loop that added into
 * memory). Callers cover any width with these blocks.
 * Written instruction by instruction like heap-simd-loops.ts (no WebAssembly toolchain is part of the build), on its
 * building blocks; `WebAssembly.validate` checks the bytes.
 */
// The register-tile building blocks narrow-mat-mul.ts uses too (the duplicates listing pairs the two import lists).
import {
  codeEntry,
  doWhile,
  eachOfTile,
  END,
  get,
  heapLoops,
  I32_ADD,
  I32_MUL,
  i32,
  i32s,
  increment,
  loadSplatAt,
  multiplyAddInto,
  set,
  V128_ZERO,
  v128LoadAt,
  v128StoreAt,
} from '../wasm-assembly/heap-loops.js';
import { EMPTY_BLOCK, simd } from '../wasm-assembly/wasm-binary.js';

const F32X4_MAX = simd(0xe9);
const [IF, ELSE, I32_EQZ] = [0x04, 0x05, 0x45];
/** base + stride·k (k a constant), as an address on the stack. */
const strided = (base: number, stride: number, k: number): number[] => (k === 0 ? get(base) : [...get(base), ...get(stride), ...i32(k), I32_MUL, I32_ADD]);
/** A counted do-while over `counter` from 0 to `limit` (every count ≥ 1). */
const countedLoop = (counter: number, limit: number, body: number[]): number[] => [...i32(0), ...set(counter), ...doWhile(counter, limit, [...body, ...increment(counter, i32(1))])];

/** The largest blocks (see the module comment). */
export const MAX_TAPS = 2;
export const MAX_GROUPS = 4;
export const MAX_COLUMNS = 2;

// grad locals: parameters x dy acc oh ow rowC rowP (0–6), i32 r c xr xq yp (7–11), v128 s then the accumulators.
function gradBody(taps: number, groups: number): number[] {
  const [X, DY, ACC, OH, OW, ROWC, ROWP] = [0, 1, 2, 3, 4, 5, 6];
  const [R, C, XR, XQ, YP] = [7, 8, 9, 10, 11];
  const S = 12;
  const A = (t: number, g: number): number => 13 + t * groups + g;
  const each = (f: (t: number, g: number) => number[]): number[] => eachOfTile(taps, groups, f);
  const position = [
    ...Array.from({ length: taps }, (_, t) => [
      ...get(XQ), ...loadSplatAt(4 * t), ...set(S),
      ...Array.from({ length: groups }, (__, g) => [...get(S), ...get(YP), ...v128LoadAt(16 * g), ...multiplyAddInto(A(t, g))]).flat(),
    ]).flat(),
    ...increment(YP, get(ROWC)), ...increment(XQ, i32(4)),
  ];
  const row = [...get(XR), ...set(XQ), ...countedLoop(C, OW, position), ...increment(XR, get(ROWP))];
  return codeEntry(5, 1 + taps * groups, [
    ...each((t, g) => [...strided(ACC, ROWC, t), ...v128LoadAt(16 * g), ...set(A(t, g))]),
    ...get(DY), ...set(YP), ...get(X), ...set(XR),
    ...countedLoop(R, OH, row),
    ...each((t, g) => [...strided(ACC, ROWC, t), ...get(A(t, g)), ...v128StoreAt(16 * g)]),
  ]);
}

// conv locals: parameters x w out rows blocks kh kw rowC rowP rowO bias relu (0–11), i32 r b i j xr xq xi xt wp op
// orow (12–22), v128 wv, the splats, then the accumulators.
function convBody(columns: number, groups: number): number[] {
  const [X, W, OUT, ROWS, BLOCKS, KH, KW, ROWC, ROWP, ROWO, BIAS, RELU] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [R, B, I, J, XR, XQ, XI, XT, WP, OP, OROW] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
  const WV = 23;
  const S = (p: number): number => 24 + p;
  const A = (p: number, g: number): number => 24 + columns + p * groups + g;
  const each = (f: (p: number, g: number) => number[]): number[] => eachOfTile(columns, groups, f);
  const tap = [
    ...Array.from({ length: columns }, (_, p) => [...get(XT), ...loadSplatAt(4 * p), ...set(S(p))]).flat(),
    ...Array.from({ length: groups }, (_, g) => [
      ...get(WP), ...v128LoadAt(16 * g), ...set(WV),
      ...Array.from({ length: columns }, (__, p) => [...get(S(p)), ...get(WV), ...multiplyAddInto(A(p, g))]).flat(),
    ]).flat(),
    ...increment(WP, get(ROWC)), ...increment(XT, i32(4)),
  ];
  const tapRow = [...get(XI), ...set(XT), ...countedLoop(J, KW, tap), ...increment(XI, get(ROWP))];
  const block = [
    // The sums start from the bias (bias ≠ 0) or from 0.
    ...get(BIAS), I32_EQZ, IF, EMPTY_BLOCK,
    ...each((p, g) => [...V128_ZERO, ...set(A(p, g))]),
    ELSE,
    ...each((p, g) => [...get(BIAS), ...v128LoadAt(16 * g), ...set(A(p, g))]),
    END,
    ...get(W), ...set(WP), ...get(XQ), ...set(XI),
    ...countedLoop(I, KH, tapRow),
    ...get(RELU), IF, EMPTY_BLOCK, ...each((p, g) => [...get(A(p, g)), ...V128_ZERO, ...F32X4_MAX, ...set(A(p, g))]), END,
    ...each((p, g) => [...strided(OP, ROWC, p), ...get(A(p, g)), ...v128StoreAt(16 * g)]),
    ...increment(OP, [...get(ROWC), ...i32(columns), I32_MUL]), ...increment(XQ, i32(4 * columns)),
  ];
  const row = [...get(XR), ...set(XQ), ...get(OROW), ...set(OP), ...countedLoop(B, BLOCKS, block), ...increment(XR, get(ROWP)), ...increment(OROW, get(ROWO))];
  return codeEntry(11, 1 + columns + columns * groups, [...get(X), ...set(XR), ...get(OUT), ...set(OROW), ...countedLoop(R, ROWS, row)]);
}

type Grad = (x: number, dy: number, acc: number, outHeight: number, outWidth: number, rowC: number, rowP: number) => void;
type Conv = (x: number, w: number, out: number, rows: number, blocks: number, kh: number, kw: number, rowC: number, rowP: number, rowO: number, bias: number, relu: number) => void;

/** The module's functions, by block size. */
export interface ConvSingleChannelLoops {
  /** `grad{T}x{G}`, T ≤ {@link MAX_TAPS}, G ≤ {@link MAX_GROUPS}. */
  grad(taps: number, groups: number): Grad;
  /** `conv{P}x{G}`, P ≤ {@link MAX_COLUMNS}, G ≤ {@link MAX_GROUPS}. */
  conv(columns: number, groups: number): Conv;
}

const sizes = (a: number, b: number): [number, number][] => Array.from({ length: a * b }, (_, i) => [1 + Math.floor(i / b), 1 + (i % b)]);
const GRADS = sizes(MAX_TAPS, MAX_GROUPS);
const CONVS = sizes(MAX_COLUMNS, MAX_GROUPS);

const LOOPS = heapLoops<Record<string, Grad | Conv>>(() => [
  ...GRADS.map(([t, g]) => ({ name: `grad${t}x${g}`, params: i32s(7), code: gradBody(t, g) })),
  ...CONVS.map(([p, g]) => ({ name: `conv${p}x${g}`, params: i32s(12), code: convBody(p, g) })),
]);

/** The module's bytes (tests validate them). */
export function convSingleChannelBytes(shared: boolean): Uint8Array {
  return LOOPS.bytes(shared);
}

/** The loops bound to `backend`'s heap, or undefined where they cannot run (no SIMD, memory not found). */
export function convSingleChannelLoopsOf(backend: unknown): ConvSingleChannelLoops | undefined {
  const functions = LOOPS.of(backend);
  if (functions === undefined) return undefined;
  let loops = bound.get(functions);
  if (loops === undefined) {
    // Looked up once: the kernels ask for a block per image and tap row, hundreds of times a step.
    const grads = GRADS.map(([t, g]) => functions[`grad${t}x${g}`] as Grad);
    const convs = CONVS.map(([p, g]) => functions[`conv${p}x${g}`] as Conv);
    loops = {
      grad: (taps, groups) => grads[(taps - 1) * MAX_GROUPS + groups - 1]!,
      conv: (columns, groups) => convs[(columns - 1) * MAX_GROUPS + groups - 1]!,
    };
    bound.set(functions, loops);
  }
  return loops;
}

/** The accessors made for each instance's functions. */
const bound = new WeakMap<object, ConvSingleChannelLoops>();
