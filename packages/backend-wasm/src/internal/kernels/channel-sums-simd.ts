/**
 * The per-channel float64 sums of batch normalisation in training (batch-norm-training.ts) as WebAssembly SIMD loops on
 * the tfjs wasm heap: each f32x4 of four channels is widened to two f64x2 (`f64x2.promote_low_f32x4`, the high pair
 * moved down by a shuffle) and accumulated in float64, every channel in row order — the same operations, in the same
 * order, as the JavaScript loops they replace, so the sums are bit for bit theirs.
 *
 * Why: the JavaScript loops cost ≈ 3 ns (statistics) and ≈ 4.7 ns (gradient sums) per element on this machine —
 * 0.6 ms and 0.95 ms of the bench's ≈ 8.5 ms small-CNN step for one `[64,14,14,16]` batch-norm layer, the largest
 * kernels of that step. Strided f64 accumulators are not something the project's elementwise assembler expresses
 * (wasm-assembly/, streams in lockstep), so the two functions are encoded directly, like heap-simd-loops.ts.
 *
 * Layout: `x`/`dy` are `[rows, C]` float32 (rowC = C·4 bytes, C a multiple of 4); every per-channel array is C float64
 * (2·rowC bytes), 16-byte aligned, consecutive arrays of one block 2·rowC bytes apart.
 *
 * channelMoments(x, shift, sums, rows, rowC): with d = x[r, c] − shift[c] (in float64),
 *   sums[c] += d and sums[C + c] += d·d over every row.
 *
 * channelGradSums(dy, x, stats, sums, rows, rowC): with g = dy[r, c], mean = stats[c], invStd = stats[C + c],
 *   sums[c] += g and sums[C + c] += (g·(x[r, c] − mean))·invStd over every row.
 *
 * The accumulators are read and written in place (the caller zeroes them).
 */
import { doWhile, END, get, heapLoops, I32_ADD, I32_CONST, I32_SHL, i32s, increment, set } from '../wasm-assembly/heap-loops.js';
import { I32, simd, uleb, V128, vec } from '../wasm-assembly/wasm-binary.js';

/** v128.load / v128.store with alignment 2^2 and a constant byte offset. */
const load = (offset: number): number[] => [...simd(0x00), 2, ...uleb(offset)];
const store = (offset: number): number[] => [...simd(0x0b), 2, ...uleb(offset)];
/** i8x16.shuffle taking bytes 8–15 of the first operand twice: lanes 2, 3 of an f32x4 moved to lanes 0, 1. */
const HIGH_PAIR_DOWN = [...simd(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const PROMOTE_LOW = simd(0x5f);
const F64X2_ADD = simd(0xf0);
const F64X2_SUB = simd(0xf1);
const F64X2_MUL = simd(0xf2);

/** Pushes base + k. */
const at = (base: number, k: number): number[] => [...get(base), ...get(k), I32_ADD];
/** acc[base + j + offset] += value (value pushed by `value`). */
const accumulate = (base: number, j: number, offset: number, value: number[]): number[] => [
  ...at(base, j), ...at(base, j), ...load(offset), ...value, ...F64X2_ADD, ...store(offset),
];
/** The two f64x2 halves of the f32x4 at `address` into locals `lo` and `hi`. */
const widen = (address: number[], lo: number, hi: number): number[] => [
  ...address, ...load(0), ...set(hi),
  ...get(hi), ...PROMOTE_LOW, ...set(lo),
  ...get(hi), ...get(hi), ...HIGH_PAIR_DOWN, ...PROMOTE_LOW, ...set(hi),
];

/**
 * Rows × channel groups: for each row and each group of four channels (k the float32 byte offset within the row, j
 * = 2k the float64 one), `perGroup`; `rowBases` advance by rowC after each row.
 */
function rowsLoop(l: { rows: number; rowC: number; r: number; k: number; j: number }, rowBases: number[], perGroup: number[]): number[] {
  const group = [...perGroup, ...increment(l.k, [I32_CONST, 16]), ...increment(l.j, [I32_CONST, 32])];
  const perRow = [
    I32_CONST, 0, ...set(l.k), I32_CONST, 0, ...set(l.j),
    ...doWhile(l.k, l.rowC, group),
    ...rowBases.flatMap((base) => increment(base, get(l.rowC))),
    ...increment(l.r, [I32_CONST, 1]),
  ];
  return [I32_CONST, 0, ...set(l.r), ...doWhile(l.r, l.rows, perRow)];
}

/** 2·rowC: the byte distance between two float64 per-channel arrays. */
const twoRowC = (rowC: number): number[] => [...get(rowC), I32_CONST, 1, I32_SHL];

function channelMomentsBody(): number[] {
  // Parameters x shift sums rows rowC (0–4); i32 r k j xp sq (5–9); v128 lo hi d (10–12).
  const [X, SHIFT, SUMS, ROWS, ROWC, R, K, J, XP, SQ, LO, HI, D] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const half = (value: number, offset: number): number[] => [
    ...get(value), ...at(SHIFT, J), ...load(offset), ...F64X2_SUB, ...set(D),
    ...accumulate(SUMS, J, offset, get(D)),
    ...accumulate(SQ, J, offset, [...get(D), ...get(D), ...F64X2_MUL]),
  ];
  const perGroup = [...widen(at(XP, K), LO, HI), ...half(LO, 0), ...half(HI, 16)];
  const code = [
    ...get(X), ...set(XP),
    ...get(SUMS), ...twoRowC(ROWC), I32_ADD, ...set(SQ),
    ...rowsLoop({ rows: ROWS, rowC: ROWC, r: R, k: K, j: J }, [XP], perGroup),
    END,
  ];
  const entry = [...vec([[...uleb(5), I32], [...uleb(3), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

function channelGradSumsBody(): number[] {
  // Parameters dy x stats sums rows rowC (0–5); i32 r k j dp xp inv acc2 (6–12); v128 glo ghi xlo xhi (13–16).
  const [DY, X, STATS, SUMS, ROWS, ROWC, R, K, J, DP, XP, INV, ACC2, GLO, GHI, XLO, XHI] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const half = (g: number, x: number, offset: number): number[] => [
    ...accumulate(SUMS, J, offset, get(g)),
    // (g·(x − mean))·invStd
    ...accumulate(ACC2, J, offset, [...get(g), ...get(x), ...at(STATS, J), ...load(offset), ...F64X2_SUB, ...F64X2_MUL, ...at(INV, J), ...load(offset), ...F64X2_MUL]),
  ];
  const perGroup = [...widen(at(DP, K), GLO, GHI), ...widen(at(XP, K), XLO, XHI), ...half(GLO, XLO, 0), ...half(GHI, XHI, 16)];
  const code = [
    ...get(DY), ...set(DP), ...get(X), ...set(XP),
    ...get(STATS), ...twoRowC(ROWC), I32_ADD, ...set(INV),
    ...get(SUMS), ...twoRowC(ROWC), I32_ADD, ...set(ACC2),
    ...rowsLoop({ rows: ROWS, rowC: ROWC, r: R, k: K, j: J }, [DP, XP], perGroup),
    END,
  ];
  const entry = [...vec([[...uleb(7), I32], [...uleb(4), V128]]), ...code];
  return [...uleb(entry.length), ...entry];
}

/** The module's functions; pointers are heap byte offsets (see the module comment for the layout). */
export interface ChannelSums {
  channelMoments(x: number, shift: number, sums: number, rows: number, rowC: number): void;
  channelGradSums(dy: number, x: number, stats: number, sums: number, rows: number, rowC: number): void;
}

/** The module: `channelSums.of(backend)` binds it to a backend's heap (undefined without SIMD), `.bytes` for tests. */
export const channelSums = heapLoops<ChannelSums>(() => [
  { name: 'channelMoments', params: i32s(5), code: channelMomentsBody() },
  { name: 'channelGradSums', params: i32s(6), code: channelGradSumsBody() },
]);
