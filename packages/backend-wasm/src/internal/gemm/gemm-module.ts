/**
 * A float32 GEMM in hand-assembled WebAssembly SIMD, written so that two threads can run it on one shared memory, each
 * on its own part of the output (two-thread-gemm.ts drives it). Row-major C[M,N] = op(A)·op(B) with op(A) = A or Aᵀ
 * and op(B) = B or Bᵀ, any M, K, N ≥ 1.
 *
 * The module has four functions:
 *
 * - `pack(b, dst, K, N, transB, p0, p1)`: copies the column panels p0 … p1−1 of op(B) (8 columns each) to `dst`, panel
 *   p at dst + p·K·32 bytes, element (k, c) of the panel at + k·32 + c·4 — the micro-kernel then reads one k's eight
 *   columns as two consecutive v128. B is `[K, N]` (transB = 0: two v128 per k) or `[N, K]` (transB = 1: eight
 *   `v128.load32_lane` gathers per k, unrolled by four). Columns past N repeat the last real column (transB = 1) or
 *   read whatever follows the row (transB = 0, at most 28 bytes past B's end): those lanes are never stored.
 * - `gemmN` / `gemmT(a, rsA, ksA, packed, c, ldc, K, M, N, r0, r1, p0, p1, scratch)`: rows r0 … r1−1 (r0 a multiple of
 *   {@link ROWS_PER_TILE}) times panels p0 … p1−1 of C, op(A)[r, k] read at a + r·rsA + k·ksA. The micro-kernel keeps a
 *   4 × 8 tile of C in eight f32x4 accumulators, splats one element of op(A) per row and k
 *   (`v128.load32_splat`) and multiplies it by the panel's two v128 (`f32x4.mul` + `f32x4.add`: Node 20's wasm has no
 *   FMA), one k per loop iteration (see {@link gemmBody} for why not unrolled). `gemmN` (A as stored, rows at a
 *   stride) keeps one pointer per tile row (rows past M repeat the last row); `gemmT` (A stored `[K, M]`, the tile's
 *   rows adjacent) one pointer (rows past M read up to 12 bytes past the row: never stored). Full tiles are stored as
 *   v128; a last panel with fewer than 8 columns goes through 32 bytes at `scratch`, then one float at a time.
 * - `run(descriptor, part)`: the one call each thread makes per job (see {@link Descriptor}). The threads take chunks
 *   of the job from a shared counter (`i32.atomic.rmw.add`) until none is left — column panels (each packed by the
 *   thread that takes it, into one packed B) or rows (each thread first packs all of B into its own buffer) — so a
 *   thread that starts late (a futex wake-up, a preempted worker) simply takes fewer chunks.
 *
 * Written instruction by instruction like kernels/heap-simd-loops.ts (no WebAssembly toolchain is part of the build);
 * `WebAssembly.validate` checks the bytes at run time. The imported memory is declared shared (both threads run on it).
 */
import { EMPTY_BLOCK as EMPTY, heapModuleBytes, type HeapFunction, I32, simd, sleb, uleb, V128, vec } from '../wasm-assembly/wasm-binary.js';

/** Rows of C one micro-kernel tile holds (each row two f32x4 accumulators, eight columns). */
export const ROWS_PER_TILE = 4;
/** Columns of C per packed panel of B. */
export const COLUMNS_PER_PANEL = 8;

/**
 * Byte offsets of the job descriptor `run` reads: the shared fields, then one block of {@link Descriptor.partBytes}
 * per thread at {@link Descriptor.parts} + part · partBytes.
 */
export const Descriptor = {
  a: 0,
  rsA: 4,
  ksA: 8,
  b: 12,
  c: 16,
  ldc: 20,
  k: 24,
  m: 28,
  n: 32,
  transA: 36,
  transB: 40,
  /** ⌈n / 8⌉. */
  panels: 44,
  /** 0: the threads take chunks of `chunk` column panels; 1: chunks of `chunk` rows (a multiple of 4). */
  byRows: 48,
  chunk: 52,
  /** The next chunk to take (`i32.atomic.rmw.add`); 0 when the job is posted. */
  next: 56,
  parts: 64,
  partBytes: 64,
  /**
   * In a part block: where that part packs B, its 32 bytes of scratch, the number of chunks it took (written by `run`),
   * and 1 when B is already packed there (the caller packed it: `run` then only multiplies).
   */
  part: { packed: 0, scratch: 4, taken: 8, prepacked: 12 },
  /** The whole descriptor for two parts. */
  bytes: 192,
} as const;

/** The module's exports (byte offsets into the shared memory). */
export interface GemmExports {
  readonly pack: (b: number, dst: number, k: number, n: number, transB: number, p0: number, p1: number) => void;
  readonly gemmN: GemmRange;
  readonly gemmT: GemmRange;
  readonly run: (descriptor: number, part: number) => void;
}
type GemmRange = (a: number, rsA: number, ksA: number, packed: number, c: number, ldc: number, k: number, m: number, n: number, r0: number, r1: number, p0: number, p1: number, scratch: number) => void;

/** The export names {@link GemmExports} declares. */
export const GEMM_EXPORT_NAMES: readonly (keyof GemmExports)[] = ['pack', 'gemmN', 'gemmT', 'run'];

const [BLOCK, LOOP, IF, ELSE, END, BR, BR_IF, CALL, SELECT, GET, SET] = [0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x10, 0x1b, 0x20, 0x21];
const [I32_LOAD, F32_LOAD, I32_STORE, F32_STORE, I32_CONST] = [0x28, 0x2a, 0x36, 0x38, 0x41];
const [I32_EQZ, I32_NE, I32_LT_U, I32_GE_U, I32_ADD, I32_SUB, I32_MUL, I32_AND, I32_SHL] = [0x45, 0x47, 0x49, 0x4f, 0x6a, 0x6b, 0x6c, 0x71, 0x74];

/** memarg with alignment hint 2^2 (float32 data) and a constant byte offset. */
const memarg = (offset: number): number[] => [2, ...uleb(offset)];
const v128Load = (offset: number): number[] => [...simd(0x00), ...memarg(offset)];
const v128Store = (offset: number): number[] => [...simd(0x0b), ...memarg(offset)];
const loadSplat = (offset: number): number[] => [...simd(0x09), ...memarg(offset)];
const loadLane = (offset: number, lane: number): number[] => [...simd(0x56), ...memarg(offset), lane];
const i32Load = (offset: number): number[] => [I32_LOAD, ...memarg(offset)];
/** i32.atomic.rmw.add (threads proposal, prefix 0xfe): [address, value] → old value, sequentially consistent. */
const I32_ATOMIC_ADD = (offset: number): number[] => [0xfe, 0x1e, ...memarg(offset)];
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const V128_ZERO = [...simd(0x0c), ...Array.from({ length: 16 }, () => 0)];

const get = (local: number): number[] => [GET, ...uleb(local)];
const set = (local: number): number[] => [SET, ...uleb(local)];
const i32 = (value: number): number[] => [I32_CONST, ...sleb(value)];
const increment = (local: number, by: number[]): number[] => [...get(local), ...by, I32_ADD, ...set(local)];
/** `while (local <u limit) { body }` with the test at the top, so an empty range runs nothing. */
const whileBelow = (local: number, limit: number[], body: number[]): number[] => [
  BLOCK, EMPTY, LOOP, EMPTY,
  ...get(local), ...limit, I32_GE_U, BR_IF, 1,
  ...body,
  BR, 0, END, END,
];
/** min(x, y) for values below 2^31 (x < y ? x : y). */
const minOf = (x: number[], y: number[]): number[] => [...x, ...y, ...x, ...y, I32_LT_U, SELECT];
/** A function's code-section entry: size, local declarations (count, type), body. */
const entry = (locals: readonly [number, number][], body: number[]): number[] => {
  const e = [...vec(locals.map(([count, type]) => [...uleb(count), type])), ...body, END];
  return [...uleb(e.length), ...e];
};

// pack locals: parameters b dst K N transB p0 p1 (0–6), then i32 p k src dp nr rowb k4 s0…s7 (7–21), v128 v (22).
const [PB, PDST, PK, PN, PTRANS, PP0, PP1] = [0, 1, 2, 3, 4, 5, 6];
const [PP, PKK, PSRC, PDP, PNR, PROWB, PK4] = [7, 8, 9, 10, 11, 12, 13];
const PS = (c: number): number => 14 + c;
const PV = 22;

function packBody(): number[] {
  /** Eight columns of k (+u) from the eight column pointers, two v128 stored at dp + 32u. */
  const gather = (u: number): number[] => [0, 4].flatMap((first) => [
    ...get(PS(first)), ...loadSplat(4 * u), ...set(PV),
    ...[1, 2, 3].flatMap((lane) => [...get(PS(first + lane)), ...get(PV), ...loadLane(4 * u, lane), ...set(PV)]),
    ...get(PDP), ...get(PV), ...v128Store(32 * u + 4 * first),
  ]);
  const advanceColumns = (bytes: number): number[] => Array.from({ length: 8 }, (_, c) => increment(PS(c), i32(bytes))).flat();
  const rowMajor = [
    // src = b + 32p; each k copies two v128 and moves src by a row (4N bytes)
    ...get(PB), ...get(PP), ...i32(5), I32_SHL, I32_ADD, ...set(PSRC),
    ...get(PN), ...i32(2), I32_SHL, ...set(PROWB),
    ...i32(0), ...set(PKK),
    ...whileBelow(PKK, get(PK), [
      ...get(PDP), ...get(PSRC), ...v128Load(0), ...v128Store(0),
      ...get(PDP), ...get(PSRC), ...v128Load(16), ...v128Store(16),
      ...increment(PSRC, get(PROWB)), ...increment(PDP, i32(32)), ...increment(PKK, i32(1)),
    ]),
  ];
  const transposed = [
    // nr = min(8, N − 8p); s_c = b + (8p + min(c, nr − 1))·4K
    ...minOf(i32(8), [...get(PN), ...get(PP), ...i32(3), I32_SHL, I32_SUB]), ...set(PNR),
    ...Array.from({ length: 8 }, (_, c) => [
      ...get(PB),
      ...get(PP), ...i32(3), I32_SHL, ...minOf(i32(c), [...get(PNR), ...i32(1), I32_SUB]), I32_ADD,
      ...get(PK), I32_MUL, ...i32(2), I32_SHL, I32_ADD, ...set(PS(c)),
    ]).flat(),
    ...i32(0), ...set(PKK),
    ...whileBelow(PKK, get(PK4), [...[0, 1, 2, 3].flatMap(gather), ...advanceColumns(16), ...increment(PDP, i32(128)), ...increment(PKK, i32(4))]),
    ...whileBelow(PKK, get(PK), [...gather(0), ...advanceColumns(4), ...increment(PDP, i32(32)), ...increment(PKK, i32(1))]),
  ];
  const body = [
    ...get(PK), ...i32(-4), I32_AND, ...set(PK4),
    ...get(PP0), ...set(PP),
    ...whileBelow(PP, get(PP1), [
      // dp = dst + p·K·32
      ...get(PDST), ...get(PP), ...get(PK), I32_MUL, ...i32(5), I32_SHL, I32_ADD, ...set(PDP),
      ...get(PTRANS), I32_EQZ, IF, EMPTY, ...rowMajor, ELSE, ...transposed, END,
      ...increment(PP, i32(1)),
    ]),
  ];
  return entry([[15, I32], [1, V128]], body);
}

// gemm locals: parameters a rsA ksA packed c ldc K M N r0 r1 p0 p1 scratch (0–13), then i32 p r k bp mr nr cp j base
// (14–22), q0…q{rows−1}, then v128 accumulators, b0, b1, s.
const [GA, GRSA, GKSA, GPACKED, GC, GLDC, GK, , GN, , GR1, GP0, GP1, GSCRATCH] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const [GP, GR, GKK, GBP, GMR, GNR, GCP, GJ, GBASE] = [14, 15, 16, 17, 18, 19, 20, 21, 22];

/**
 * The k loop is deliberately not unrolled. TurboFan keeps a loop body's loads in program order ahead of its arithmetic,
 * so a body unrolled by four loaded all 24 of its vectors (8 panel halves, 16 splats) before the first multiply: with
 * the 8 accumulators that is twice x64's 16 vector registers, and every iteration spilled and reloaded 14 of them
 * (seen with `node --print-wasm-code`). One k per iteration keeps 2 + rows loaded vectors and 2·rows accumulators in
 * registers: 33 → 50 GFLOP/s on one thread for the MLP's products (the four extra scalar adds cost less than the spills).
 */
function gemmBody(transA: boolean, rows: number): number[] {
  const pointers = transA ? 1 : rows;
  const Q = (i: number): number => 23 + i;
  const ACC = (i: number, half: number): number => 23 + pointers + 2 * i + half;
  const [B0, B1, S] = [23 + pointers + 2 * rows, 24 + pointers + 2 * rows, 25 + pointers + 2 * rows];
  /** acc[i][0..1] += s·(b0, b1) */
  const multiplyAdd = (i: number): number[] => [0, 1].flatMap((half) => [
    ...get(ACC(i, half)), ...get(S), ...get(half === 0 ? B0 : B1), ...F32X4_MUL, ...F32X4_ADD, ...set(ACC(i, half)),
  ]);
  /** One k of the tile: two panel loads, one splat and two multiply-adds per row. */
  const step = [
    ...get(GBP), ...v128Load(0), ...set(B0),
    ...get(GBP), ...v128Load(16), ...set(B1),
    ...Array.from({ length: rows }, (_, i) => [
      // gemmN: row pointer i; gemmT: the one k pointer, row i at offset 4i
      ...(transA ? [...get(Q(0)), ...loadSplat(4 * i)] : [...get(Q(i)), ...loadSplat(0)]),
      ...set(S),
      ...multiplyAdd(i),
    ]).flat(),
  ];
  const setPointers = transA
    ? [...get(GBASE), ...set(Q(0))]
    : Array.from({ length: rows }, (_, i) => [
        ...get(GBASE), ...(i === 0 ? [] : [...minOf(i32(i), [...get(GMR), ...i32(1), I32_SUB]), ...get(GRSA), I32_MUL, I32_ADD]), ...set(Q(i)),
      ]).flat();
  const advance = transA ? increment(Q(0), get(GKSA)) : Array.from({ length: rows }, (_, i) => increment(Q(i), i32(4))).flat();
  const storeRow = (i: number): number[] => {
    const full = [...get(GCP), ...get(ACC(i, 0)), ...v128Store(0), ...get(GCP), ...get(ACC(i, 1)), ...v128Store(16)];
    const partial = [
      ...get(GSCRATCH), ...get(ACC(i, 0)), ...v128Store(0), ...get(GSCRATCH), ...get(ACC(i, 1)), ...v128Store(16),
      ...i32(0), ...set(GJ),
      ...whileBelow(GJ, get(GNR), [
        ...get(GCP), ...get(GJ), ...i32(2), I32_SHL, I32_ADD,
        ...get(GSCRATCH), ...get(GJ), ...i32(2), I32_SHL, I32_ADD, F32_LOAD, ...memarg(0),
        F32_STORE, ...memarg(0),
        ...increment(GJ, i32(1)),
      ]),
    ];
    const store = [...get(GNR), ...i32(8), I32_NE, IF, EMPTY, ...partial, ELSE, ...full, END, ...increment(GCP, get(GLDC))];
    return i === 0 ? store : [...i32(i), ...get(GMR), I32_LT_U, IF, EMPTY, ...store, END];
  };
  const tile = [
    // mr = min(rows, r1 − r); base = a + r·rsA; bp = packed + p·K·32
    ...minOf(i32(rows), [...get(GR1), ...get(GR), I32_SUB]), ...set(GMR),
    ...get(GA), ...get(GR), ...get(GRSA), I32_MUL, I32_ADD, ...set(GBASE),
    ...setPointers,
    ...get(GPACKED), ...get(GP), ...get(GK), I32_MUL, ...i32(5), I32_SHL, I32_ADD, ...set(GBP),
    ...Array.from({ length: 2 * rows }, (_, j) => [...V128_ZERO, ...set(ACC(j >> 1, j & 1))]).flat(),
    ...i32(0), ...set(GKK),
    ...whileBelow(GKK, get(GK), [...step, ...increment(GBP, i32(32)), ...advance, ...increment(GKK, i32(1))]),
    // cp = c + r·ldc + 32p
    ...get(GC), ...get(GR), ...get(GLDC), I32_MUL, I32_ADD, ...get(GP), ...i32(5), I32_SHL, I32_ADD, ...set(GCP),
    ...Array.from({ length: rows }, (_, i) => storeRow(i)).flat(),
    ...increment(GR, i32(rows)),
  ];
  const body = [
    ...get(GP0), ...set(GP),
    ...whileBelow(GP, get(GP1), [
      // nr = min(8, N − 8p)
      ...minOf(i32(8), [...get(GN), ...get(GP), ...i32(3), I32_SHL, I32_SUB]), ...set(GNR),
      ...get(9), ...set(GR),
      ...whileBelow(GR, get(GR1), tile),
      ...increment(GP, i32(1)),
    ]),
  ];
  return entry([[9 + pointers, I32], [2 * rows + 3, V128]], body);
}

// run locals: parameters descriptor part (0–1), then i32 block chunk lo hi taken (2–6).
function runBody(): number[] {
  const [DESC, PART, BLOCKP, CHUNK, LO, HI, TAKEN] = [0, 1, 2, 3, 4, 5, 6];
  const field = (offset: number): number[] => [...get(DESC), ...i32Load(offset)];
  const partField = (offset: number): number[] => [...get(BLOCKP), ...i32Load(offset)];
  const p = Descriptor.part;
  const gemm = (rows: number[], panels: number[]): number[] => {
    const args = [
      ...field(Descriptor.a), ...field(Descriptor.rsA), ...field(Descriptor.ksA), ...partField(p.packed), ...field(Descriptor.c),
      ...field(Descriptor.ldc), ...field(Descriptor.k), ...field(Descriptor.m), ...field(Descriptor.n),
      ...rows, ...panels, ...partField(p.scratch),
    ];
    return [...field(Descriptor.transA), IF, EMPTY, ...args, CALL, 2, ELSE, ...args, CALL, 1, END];
  };
  const pack = (panels: number[]): number[] => [
    ...partField(p.prepacked), I32_EQZ, IF, EMPTY,
    ...field(Descriptor.b), ...partField(p.packed), ...field(Descriptor.k), ...field(Descriptor.n), ...field(Descriptor.transB), ...panels, CALL, 0,
    END,
  ];
  /** Takes chunks until none is left: lo = chunk·next++, stop when lo ≥ limit, hi = min(lo + chunk, limit). */
  const takeChunks = (limit: number, body: number[]): number[] => [
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(DESC), ...i32(1), ...I32_ATOMIC_ADD(Descriptor.next), ...get(CHUNK), I32_MUL, ...set(LO),
    ...get(LO), ...field(limit), I32_GE_U, BR_IF, 1,
    ...minOf([...get(LO), ...get(CHUNK), I32_ADD], field(limit)), ...set(HI),
    ...body,
    ...increment(TAKEN, i32(1)),
    BR, 0, END, END,
  ];
  const body = [
    ...get(DESC), ...i32(Descriptor.parts), I32_ADD, ...get(PART), ...i32(Descriptor.partBytes), I32_MUL, I32_ADD, ...set(BLOCKP),
    ...field(Descriptor.chunk), ...set(CHUNK),
    ...field(Descriptor.byRows), IF, EMPTY,
    // Row chunks: this part packs all of B for itself first.
    ...pack([...i32(0), ...field(Descriptor.panels)]),
    ...takeChunks(Descriptor.m, gemm([...get(LO), ...get(HI)], [...i32(0), ...field(Descriptor.panels)])),
    ELSE,
    // Panel chunks: each packed by the part that takes it, into the one shared packed B.
    ...takeChunks(Descriptor.panels, [...pack([...get(LO), ...get(HI)]), ...gemm([...i32(0), ...field(Descriptor.m)], [...get(LO), ...get(HI)])]),
    END,
    ...get(BLOCKP), ...get(TAKEN), I32_STORE, ...memarg(p.taken),
  ];
  return entry([[5, I32]], body);
}

/**
 * The module's functions: `pack`, `gemmN`, `gemmT`, `run` (function indices 0–3; `run` calls the others by index, so a
 * module without `run` keeps the first three). `rows` is the micro-kernel's tile height (default
 * {@link ROWS_PER_TILE}; 2·rows + 3 v128 locals must fit the engine's vector registers — x64 has 16).
 */
export function gemmFunctions(rows: number = ROWS_PER_TILE): HeapFunction[] {
  const i32s = (n: number): number[] => Array.from({ length: n }, () => I32);
  return [
    { name: 'pack', params: i32s(7), code: packBody() },
    { name: 'gemmN', params: i32s(14), code: gemmBody(false, rows) },
    { name: 'gemmT', params: i32s(14), code: gemmBody(true, rows) },
    { name: 'run', params: i32s(2), code: runBody() },
  ];
}

/** The two-thread module's bytes: {@link gemmFunctions} on an imported shared `env.memory`. */
export function gemmModuleBytes(rows: number = ROWS_PER_TILE): Uint8Array {
  return heapModuleBytes(gemmFunctions(rows), true);
}
