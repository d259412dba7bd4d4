/**
 * Two loops of the recurrent layers' weight gradients as WebAssembly SIMD functions on the tfjs wasm heap:
 *
 * - `transpose4(src, dst, k, n)`: dst `[n, k]` = srcᵀ for a row-major float32 `[k, n]`, 4×4 blocks at a time (four
 *   row loads, eight `i8x16.shuffle`s, four column stores); k and n multiples of 4.
 * - `columnProducts(x, dz, acc, rows, d, rowG)`: acc[q, :] += x[r, q]·dz[r, :] for every row r in order and every
 *   q < d — Xᵀ·dZ for a narrow X `[rows, d]` without transposing it (acc `[d, G]`, rowG = G·4 bytes, G a multiple of
 *   4; the caller zeroes acc). Each output is a float32 sum over the rows in row order, as a plain loop (or a GEMM's
 *   inner loop over k) computes it.
 *
 * Why: inside a whole-sequence LSTM/GRU backward (recurrent/), Xᵀ·dZ and 1ᵀ·dZ went through the native matMul,
 * which packs its right operand — dZ `[B·T, 4H]`, a new buffer every call — before multiplying: ≈ 1.6 ms of the
 * bench LSTM's 12 ms step for 2.6 M multiply-adds, against ≈ 0.3 ms for this loop (and `sumRows` for the bias). The stock `Transpose` takes ≈ 7 ns per element (≈ 1 ms for the `[B·T, H]`
 * h₋₁ rows each backward transposes); the blocked SIMD one ≈ 0.1 ms. Strided rows and 4×4 shuffles are not something
 * the project's elementwise assembler (wasm-assembly/) expresses, so both functions are encoded directly, like
 * heap-simd-loops.ts.
 */
// The building blocks heap-simd-loops.ts uses too (the duplicates listing pairs the two import lists).
import {
  doWhile,
  END,
  F32_LOAD,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SPLAT,
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
} from '../wasm-assembly/heap-loops.js';
import { I32, simd, uleb, V128, vec } from '../wasm-assembly/wasm-binary.js';

/** i8x16.shuffle of two f32x4 operands (lanes 0–3 the first, 4–7 the second) into the four f32 lanes `lanes`. */
const shuffle = (...lanes: number[]): number[] => [...simd(0x0d), ...lanes.flatMap((lane) => [0, 1, 2, 3].map((b) => lane * 4 + b))];

/** Pushes base + times·stride (times 0–3). */
const strided = (base: number, stride: number, times: number): number[] =>
  times === 0 ? get(base) : [...get(base), ...get(stride), ...(times === 1 ? [] : [I32_CONST, times, I32_MUL]), I32_ADD];

function transpose4Body(): number[] {
  // Parameters src dst k n (0–3); i32 i j sp dp rowS rowD (4–9); v128 r0 r1 r2 r3 t0 t1 t2 t3 (10–17).
  const [SRC, DST, K, N, I, J, SP, DP, ROWS, ROWD] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const R = [10, 11, 12, 13];
  const T = [14, 15, 16, 17];
  const [r0, r1, r2, r3] = R.map(get) as [number[], number[], number[], number[]];
  const [t0, t1, t2, t3] = T.map(get) as [number[], number[], number[], number[]];
  const block = [
    // r_q = src row i+q, columns j…j+3
    ...R.flatMap((local, q) => [...strided(SP, ROWS, q), ...V128_LOAD, ...set(local)]),
    // t0 = (a0 b0 a1 b1), t1 = (a2 b2 a3 b3), t2 = (c0 d0 c1 d1), t3 = (c2 d2 c3 d3)
    ...r0, ...r1, ...shuffle(0, 4, 1, 5), ...set(T[0]!),
    ...r0, ...r1, ...shuffle(2, 6, 3, 7), ...set(T[1]!),
    ...r2, ...r3, ...shuffle(0, 4, 1, 5), ...set(T[2]!),
    ...r2, ...r3, ...shuffle(2, 6, 3, 7), ...set(T[3]!),
    // dst row j+q, columns i…i+3 = (a_q b_q c_q d_q)
    ...strided(DP, ROWD, 0), ...t0, ...t2, ...shuffle(0, 1, 4, 5), ...V128_STORE,
    ...strided(DP, ROWD, 1), ...t0, ...t2, ...shuffle(2, 3, 6, 7), ...V128_STORE,
    ...strided(DP, ROWD, 2), ...t1, ...t3, ...shuffle(0, 1, 4, 5), ...V128_STORE,
    ...strided(DP, ROWD, 3), ...t1, ...t3, ...shuffle(2, 3, 6, 7), ...V128_STORE,
    ...increment(SP, [I32_CONST, 16]),
    ...increment(DP, [...get(ROWD), I32_CONST, 2, I32_SHL]),
    ...increment(J, [I32_CONST, 4]),
  ];
  const rowGroup = [
    // sp = src + i·rowS, dp = dst + 4i
    ...get(SRC), ...get(I), ...get(ROWS), I32_MUL, I32_ADD, ...set(SP),
    ...get(DST), ...get(I), I32_CONST, 2, I32_SHL, I32_ADD, ...set(DP),
    I32_CONST, 0, ...set(J),
    ...doWhile(J, N, block),
    ...increment(I, [I32_CONST, 4]),
  ];
  const code = [
    ...get(N), I32_CONST, 2, I32_SHL, ...set(ROWS),
    ...get(K), I32_CONST, 2, I32_SHL, ...set(ROWD),
    I32_CONST, 0, ...set(I),
    ...doWhile(I, K, rowGroup),
    END,
  ];
  const entry = [...vec([[...uleb(6), I32], [...uleb(8), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

function columnProductsBody(): number[] {
  // Parameters x dz acc rows d rowG (0–5); i32 r q k xp zp ap (6–11); v128 s (12).
  const [X, DZ, ACC, ROWS, D, ROWG, R, Q, K, XP, ZP, AP, S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const at = (base: number): number[] => [...get(base), ...get(K), I32_ADD];
  const element = [...at(AP), ...at(AP), ...V128_LOAD, ...get(S), ...at(ZP), ...V128_LOAD, ...F32X4_MUL, ...F32X4_ADD, ...V128_STORE, ...increment(K, [I32_CONST, 16])];
  const perColumn = [
    // s = splat(x[r, q])
    ...get(XP), ...get(Q), I32_CONST, 2, I32_SHL, I32_ADD, ...F32_LOAD, ...F32X4_SPLAT, ...set(S),
    I32_CONST, 0, ...set(K), ...doWhile(K, ROWG, element),
    ...increment(AP, get(ROWG)),
    ...increment(Q, [I32_CONST, 1]),
  ];
  const perRow = [
    ...get(ACC), ...set(AP), I32_CONST, 0, ...set(Q),
    ...doWhile(Q, D, perColumn),
    ...increment(XP, [...get(D), I32_CONST, 2, I32_SHL]),
    ...increment(ZP, get(ROWG)),
    ...increment(R, [I32_CONST, 1]),
  ];
  const code = [...get(X), ...set(XP), ...get(DZ), ...set(ZP), I32_CONST, 0, ...set(R), ...doWhile(R, ROWS, perRow), END];
  const entry = [...vec([[...uleb(6), I32], [...uleb(1), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

/** The module's functions; pointers are heap byte offsets (see the module comment). */
export interface WeightGradientLoops {
  transpose4(src: number, dst: number, k: number, n: number): void;
  columnProducts(x: number, dz: number, acc: number, rows: number, d: number, rowG: number): void;
}

/** The module: `weightGradientLoops.of(backend)` binds it to a backend's heap (undefined without SIMD), `.bytes` for tests. */
export const weightGradientLoops = heapLoops<WeightGradientLoops>(() => [
  { name: 'transpose4', params: i32s(4), code: transpose4Body() },
  { name: 'columnProducts', params: i32s(6), code: columnProductsBody() },
]);
