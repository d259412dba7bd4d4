/**
 * Building blocks of the hand-encoded heap loops (kernels/heap-simd-loops.ts, channel-sums-simd.ts,
 * weight-gradient-simd.ts): the opcodes they use, local access, counted do-while loops, and one function that turns a
 * list of encoded functions into a module bound to a backend's heap. Those loops need strided addressing, which the
 * elementwise assembler (simd-elementwise.ts, streams in lockstep) does not express.
 */
import { HeapModule } from './heap-module.js';
import { EMPTY_BLOCK, type HeapFunction, heapModuleBytes, I32, MEMARG, simd, sleb, uleb, V128, vec } from './wasm-binary.js';

export const BLOCK_LOOP = 0x03;
export const BR_IF = 0x0d;
export const END = 0x0b;
export const I32_CONST = 0x41;
export const I32_LT_U = 0x49;
export const I32_ADD = 0x6a;
export const I32_MUL = 0x6c;
export const I32_SHL = 0x74;
export const V128_LOAD = [...simd(0x00), ...MEMARG];
export const V128_STORE = [...simd(0x0b), ...MEMARG];
export const F32_LOAD = [0x2a, ...MEMARG];
export const F32X4_SPLAT = simd(0x13);
export const F32X4_ADD = simd(0xe4);
export const F32X4_SUB = simd(0xe5);
export const F32X4_MUL = simd(0xe6);

/** local.get / local.set. */
export const get = (local: number): number[] => [0x20, ...uleb(local)];
export const set = (local: number): number[] => [0x21, ...uleb(local)];
/** local += (the value `by` pushes). */
export const increment = (local: number, by: number[]): number[] => [...get(local), ...by, I32_ADD, ...set(local)];
/** `loop … br_if 0 (local <u limit) end` — a do-while: every count is ≥ 1. */
export const doWhile = (local: number, limit: number, body: number[]): number[] => [BLOCK_LOOP, EMPTY_BLOCK, ...body, ...get(local), ...get(limit), I32_LT_U, BR_IF, 0, END];
/** `n` i32 parameter types. */
export const i32s = (n: number): number[] => Array.from({ length: n }, () => I32);

/** memarg with alignment hint 2^2 (float32 data) and a constant byte offset. */
const memargAt = (offset: number): number[] => [2, ...uleb(offset)];
/** v128.load / v128.store / v128.load32_splat (one float to four lanes) at a constant byte offset from the address. */
export const v128LoadAt = (offset: number): number[] => [...simd(0x00), ...memargAt(offset)];
export const v128StoreAt = (offset: number): number[] => [...simd(0x0b), ...memargAt(offset)];
export const loadSplatAt = (offset: number): number[] => [...simd(0x09), ...memargAt(offset)];
/** v128.const 0. */
export const V128_ZERO = [...simd(0x0c), ...Array.from({ length: 16 }, () => 0x00)];
/** i32.const of any value. */
export const i32 = (value: number): number[] => [I32_CONST, ...sleb(value)];
/** `acc = a·b + acc` in float32, with a and b already on the stack. */
export const multiplyAddInto = (acc: number): number[] => [...F32X4_MUL, ...get(acc), ...F32X4_ADD, ...set(acc)];
/** A function's code-section entry: `i32Locals` i32 and `v128Locals` v128 locals, then `code` and `end`. */
export function codeEntry(i32Locals: number, v128Locals: number, code: number[]): number[] {
  const body = [...vec([[...uleb(i32Locals), I32], [...uleb(v128Locals), V128]]), ...code, END];
  return [...uleb(body.length), ...body];
}
/** `f(i, j)` for every i < rows and j < columns, concatenated row by row (a register tile's accumulators). */
export function eachOfTile(rows: number, columns: number, f: (i: number, j: number) => number[]): number[] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, (__, j) => f(i, j)).flat()).flat();
}

/** A module of encoded heap functions: its bytes (tests validate them) and the functions bound to a backend's heap. */
export interface HeapLoops<T extends object> {
  /** The module's bytes; `shared` declares the imported memory shared (the threaded backend's heap). */
  bytes(shared: boolean): Uint8Array;
  /** The functions bound to `backend`'s heap, or undefined where they cannot run (no SIMD, memory not found). */
  of(backend: unknown): T | undefined;
}

/** See {@link HeapLoops}; `functions` is called once per module variant (shared or not). */
export function heapLoops<T extends object>(functions: () => readonly HeapFunction[]): HeapLoops<T> {
  const module = new HeapModule<T>(
    (shared) => heapModuleBytes(functions(), shared),
    () => functions().map((fn) => fn.name),
  );
  return { bytes: (shared) => module.bytes(shared), of: (backend) => module.forBackend(backend) };
}
