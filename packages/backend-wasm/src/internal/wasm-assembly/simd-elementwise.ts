/**
 * A tiny WebAssembly SIMD assembler for elementwise loops over the tfjs wasm backend's heap: kernels written as float32
 * formulas over input/output streams (see {@link KernelSpec}) become a vector loop (f32x4) and a scalar tail that run
 * the same float32 operations in the same order. Used by the fused optimizer updates (fused-updates/) and the
 * recurrent layers' gate passes (recurrent/).
 *
 * Why by hand: no WebAssembly toolchain (clang, wat2wasm, binaryen) is part of the build, and none is needed for
 * straight-line loops. The bytes were cross-checked against the `wabt` npm package (wat2wasm/wasm2wat) during
 * development; at run time `WebAssembly.validate` checks them.
 *
 * Module layout (binary format, https://webassembly.github.io/spec/core/binary/):
 *
 *   magic `\0asm`, version 1
 *   type section (1)     one func type per kernel: (i32 × pointers, i32 n, f32 × parameters) → ()
 *   import section (2)   `env.memory`: the backend's own memory. Non-shared: limits flag 0x00, min 0 (any current size
 *                        and maximum match). Shared (the threaded build, SharedArrayBuffer heap): flag 0x03, min 0,
 *                        max 65536 pages — a shared memory import must be declared shared and with a maximum ≥ the
 *                        imported one's, and 65536 pages (4 GiB) is the largest there is.
 *   function section (3) function i has type i
 *   export section (7)   the kernels by name (`adam`, `rmsprop`, `rmspropCentered`, `momentum`, `nesterov`, `sgd`)
 *   code section (10)    one body per kernel, laid out as
 *
 *     params:  inputs… outputs… (i32 byte offsets into the heap), n (i32, elements), scalars… (f32)
 *     locals:  i, end4, endAll (i32) · one v128 per scalar (its splat) · one v128 per `let` · one f32 per `let`
 *       end4   = (n & −4) << 2            ;; bytes covered by whole f32x4 vectors
 *       endAll = n << 2
 *       splat_k = f32x4.splat(scalar_k)   ;; once per call
 *       block loop                        ;; vector loop, i advances 16 bytes
 *         br_if 1 (i ≥u end4)
 *         for each statement:  let  → <expr as f32x4> local.set vlet
 *                              store → local.get out; local.get i; i32.add; <expr as f32x4>; v128.store
 *         i += 16; br 0
 *       end end
 *       block loop                        ;; scalar tail (n % 4 elements), i advances 4 bytes
 *         br_if 1 (i ≥u endAll)
 *         the same statements with f32 ops, f32.load/f32.store and the unsplatted scalars
 *         i += 4; br 0
 *       end end
 *     an input element is `local.get ptr; local.get i; i32.add; v128.load` (f32.load in the tail); memarg alignment
 *     is 2^2 (float32 tensors are only guaranteed 4-byte aligned; unaligned v128 access is legal, the hint is a hint)
 *
 * It is compiled synchronously (`new WebAssembly.Module`, kernels are synchronous): at ≈1.9 KB it is under the 4 KB
 * that Chrome allows for synchronous compilation on the main thread.
 *
 * The module imports the memory, it does not own one: tensors stay where tfjs allocated them, the kernel receives their
 * byte offsets (what `backend.typedArrayFromHeap` views), and heap growth is seen automatically because a
 * `WebAssembly.Memory` object keeps its identity when it grows. One instance is made per backend memory and cached.
 */

import { HeapModule } from './heap-module.js';
import { EMPTY_BLOCK, F32, heapModuleBytes, I32, MEMARG, simd, sleb, uleb, V128, vec } from './wasm-binary.js';

export { type WasmMemory } from './heap-module.js';

/** f32 scalar expression over the current element of the input streams, evaluated per lane. */
export type Expr =
  | { readonly k: 'in'; readonly name: string }
  | { readonly k: 'param'; readonly name: string }
  | { readonly k: 'let'; readonly name: string }
  | { readonly k: 'const'; readonly value: number }
  | { readonly k: 'bin'; readonly op: 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'pmin' | 'pmax'; readonly a: Expr; readonly b: Expr }
  | { readonly k: 'sqrt'; readonly a: Expr }
  /** `then` where `a > b`, else +0 (per lane; false for NaN). */
  | { readonly k: 'gtMask'; readonly a: Expr; readonly b: Expr; readonly then: Expr };

export type Statement = { readonly let: string; readonly value: Expr } | { readonly store: string; readonly value: Expr };

/** One exported function: `(inputs…, outputs… as i32 byte offsets, n as i32, scalars… as f32) → ()`. */
export interface KernelSpec {
  readonly name: string;
  /** Input streams (heap byte offsets), in parameter order. */
  readonly inputs: readonly string[];
  /** Output streams (heap byte offsets), after the inputs. */
  readonly outputs: readonly string[];
  /** f32 scalars, after the element count. */
  readonly scalars: readonly string[];
  readonly body: readonly Statement[];
  /**
   * Also export `<name>Rows(streams…, n, scalars…, rows, strides…)`: the kernel on `rows` rows, each stream's offset
   * advancing by its own stride (bytes, one per stream in parameter order) from one row to the next — one call from
   * JavaScript instead of one per row (a call with many arguments costs ≈ 0.3–0.6 µs, about what a row of 64 does).
   */
  readonly rows?: boolean;
}

export const load = (name: string): Expr => ({ k: 'in', name });
export const s = (name: string): Expr => ({ k: 'param', name });
export const ref = (name: string): Expr => ({ k: 'let', name });
/** A float32 constant (rounded to float32 when assembled). */
export const constant = (value: number): Expr => ({ k: 'const', value });
export const add = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'add', a, b });
export const sub = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'sub', a, b });
export const mul = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'mul', a, b });
export const div = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'div', a, b });
export const min = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'min', a, b });
export const max = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'max', a, b });
/**
 * `b < a ? b : a` and `a < b ? b : a` per lane (`f32x4.pmin` / `pmax`: one x86 instruction each, where `min` / `max`,
 * the IEEE operations with their NaN and −0 rules, take V8 nine); the scalar tail uses `f32.min` / `f32.max`. For a
 * value clamped by a nonzero constant (`pmin(x, c)`, `pmax(x, c)`) both give the same result, NaN included.
 */
export const pmin = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'pmin', a, b });
export const pmax = (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'pmax', a, b });
export const sqrt = (a: Expr): Expr => ({ k: 'sqrt', a });
/** `then` where `a > b`, else +0. */
export const gtMask = (a: Expr, b: Expr, then: Expr): Expr => ({ k: 'gtMask', a, b, then });

// ---------------------------------------------------------------------------------------------------------------
// Assembler: opcodes (only those used); the binary encoding is wasm-binary.ts'.

const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  select: 0x1b,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  f32Const: 0x43,
  f32Gt: 0x5e,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  call: 0x10,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Min: 0x96,
  f32Max: 0x97,
} as const;

/** SIMD opcodes (see {@link simd}). */
const SIMD = {
  v128Load: 0x00,
  v128Store: 0x0b,
  f32x4Splat: 0x13,
  f32x4Gt: 0x44,
  v128And: 0x4e,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
} as const;
const BIN_OPS = {
  add: { scalar: [OP.f32Add], vector: simd(SIMD.f32x4Add) },
  sub: { scalar: [OP.f32Sub], vector: simd(SIMD.f32x4Sub) },
  mul: { scalar: [OP.f32Mul], vector: simd(SIMD.f32x4Mul) },
  div: { scalar: [OP.f32Div], vector: simd(SIMD.f32x4Div) },
  min: { scalar: [OP.f32Min], vector: simd(SIMD.f32x4Min) },
  max: { scalar: [OP.f32Max], vector: simd(SIMD.f32x4Max) },
  pmin: { scalar: [OP.f32Min], vector: simd(SIMD.f32x4Pmin) },
  pmax: { scalar: [OP.f32Max], vector: simd(SIMD.f32x4Pmax) },
} as const;

/** `f32.const value` (little-endian float32 immediate). */
function f32Const(value: number): number[] {
  const bytes = new Uint8Array(new Float32Array([value]).buffer);
  return [OP.f32Const, ...bytes];
}

function lookup(map: ReadonlyMap<string, number>, key: string, what: string, kernel: string): number {
  const index = map.get(key);
  if (index === undefined) throw new Error(`simd-elementwise: ${kernel} uses unknown ${what} '${key}'`);
  return index;
}

/** The code-section entry (locals + body) of one kernel. */
function functionBody(spec: KernelSpec): number[] {
  const streams = [...spec.inputs, ...spec.outputs];
  const lets = [...new Set(spec.body.flatMap((st) => ('let' in st ? [st.let] : [])))];
  const n = streams.length;
  const scalarBase = n + 1;
  const iLocal = scalarBase + spec.scalars.length;
  const end4Local = iLocal + 1;
  const endAllLocal = iLocal + 2;
  const splatBase = iLocal + 3;
  const vLetBase = splatBase + spec.scalars.length;
  const sLetBase = vLetBase + lets.length;
  const streamIndex = new Map(streams.map((name, i) => [name, i]));
  const scalarIndex = new Map(spec.scalars.map((name, i) => [name, i]));
  const letIndex = new Map(lets.map((name, i) => [name, i]));

  const get = (local: number): number[] => [OP.localGet, ...uleb(local)];
  const set = (local: number): number[] => [OP.localSet, ...uleb(local)];
  const address = (stream: string): number[] => [...get(lookup(streamIndex, stream, 'stream', spec.name)), ...get(iLocal), OP.i32Add];

  const expr = (e: Expr, vector: boolean): number[] => {
    switch (e.k) {
      case 'in':
        return [...address(e.name), ...(vector ? [...simd(SIMD.v128Load), ...MEMARG] : [OP.f32Load, ...MEMARG])];
      case 'param': {
        const k = lookup(scalarIndex, e.name, 'scalar', spec.name);
        return get(vector ? splatBase + k : scalarBase + k);
      }
      case 'let': {
        const k = lookup(letIndex, e.name, 'let', spec.name);
        return get(vector ? vLetBase + k : sLetBase + k);
      }
      case 'bin':
        return [...expr(e.a, vector), ...expr(e.b, vector), ...BIN_OPS[e.op][vector ? 'vector' : 'scalar']];
      case 'sqrt':
        return [...expr(e.a, vector), ...(vector ? simd(SIMD.f32x4Sqrt) : [OP.f32Sqrt])];
      case 'const':
        return [...f32Const(e.value), ...(vector ? simd(SIMD.f32x4Splat) : [])];
      case 'gtMask':
        return vector
          ? [...expr(e.then, true), ...expr(e.a, true), ...expr(e.b, true), ...simd(SIMD.f32x4Gt), ...simd(SIMD.v128And)]
          : [...expr(e.then, false), ...f32Const(0), ...expr(e.a, false), ...expr(e.b, false), OP.f32Gt, OP.select];
    }
  };
  const statements = (vector: boolean): number[] =>
    spec.body.flatMap((st) =>
      'let' in st
        ? [...expr(st.value, vector), ...set((vector ? vLetBase : sLetBase) + lookup(letIndex, st.let, 'let', spec.name))]
        : [...address(st.store), ...expr(st.value, vector), ...(vector ? [...simd(SIMD.v128Store), ...MEMARG] : [OP.f32Store, ...MEMARG])],
    );
  /** `block loop br_if(i ≥u end) body; i += step; br 0 end end` */
  const loop = (end: number, step: number, body: number[]): number[] => [
    OP.block, EMPTY_BLOCK,
    OP.loop, EMPTY_BLOCK,
    ...get(iLocal), ...get(end), OP.i32GeU, OP.brIf, 1,
    ...body,
    ...get(iLocal), OP.i32Const, ...sleb(step), OP.i32Add, ...set(iLocal),
    OP.br, 0,
    OP.end,
    OP.end,
  ];

  const code = [
    ...get(n), OP.i32Const, ...sleb(-4), OP.i32And, OP.i32Const, 2, OP.i32Shl, ...set(end4Local),
    ...get(n), OP.i32Const, 2, OP.i32Shl, ...set(endAllLocal),
    ...spec.scalars.flatMap((_, k) => [...get(scalarBase + k), ...simd(SIMD.f32x4Splat), ...set(splatBase + k)]),
    ...loop(end4Local, 16, statements(true)),
    ...loop(endAllLocal, 4, statements(false)),
    OP.end,
  ];
  const locals = vec(
    (
      [
        [3, I32],
        [spec.scalars.length + lets.length, V128],
        [lets.length, F32],
      ] as const
    )
      .filter(([count]) => count > 0)
      .map(([count, type]) => [...uleb(count), type]),
  );
  const entry = [...locals, ...code];
  return [...uleb(entry.length), ...entry];
}

/** The module's bytes: one exported function per spec; `shared` declares the imported memory shared (the threaded backend's heap). */
export function simdModuleBytes(specs: readonly KernelSpec[], shared: boolean): Uint8Array {
  const params = (spec: KernelSpec): number[] => [...[...spec.inputs, ...spec.outputs, 'n'].map(() => I32), ...spec.scalars.map(() => F32)];
  const functions = specs.map((spec) => ({ name: spec.name, params: params(spec), code: functionBody(spec) }));
  const rowLoops = specs.flatMap((spec, index) => {
    if (spec.rows !== true) return [];
    const streams = spec.inputs.length + spec.outputs.length;
    return [{ name: `${spec.name}Rows`, params: [...params(spec), I32, ...Array.from({ length: streams }, () => I32)], code: rowLoopBody(spec, index) }];
  });
  return heapModuleBytes([...functions, ...rowLoops], shared);
}

/**
 * `<name>Rows`: `while (rows != 0) { <name>(streams…, n, scalars…); stream_k += stride_k; rows -= 1 }` (see
 * {@link KernelSpec.rows}); `callee` is the kernel's function index.
 */
function rowLoopBody(spec: KernelSpec, callee: number): number[] {
  const streams = spec.inputs.length + spec.outputs.length;
  const rows = streams + 1 + spec.scalars.length;
  const get = (local: number): number[] => [OP.localGet, ...uleb(local)];
  const set = (local: number): number[] => [OP.localSet, ...uleb(local)];
  const code = [
    OP.block, EMPTY_BLOCK,
    OP.loop, EMPTY_BLOCK,
    ...get(rows), OP.i32Eqz, OP.brIf, 1,
    ...Array.from({ length: rows }, (_, k) => get(k)).flat(), OP.call, ...uleb(callee),
    ...Array.from({ length: streams }, (_, k) => [...get(k), ...get(rows + 1 + k), OP.i32Add, ...set(k)]).flat(),
    ...get(rows), OP.i32Const, ...sleb(1), OP.i32Sub, ...set(rows),
    OP.br, 0,
    OP.end,
    OP.end,
    OP.end,
  ];
  const entry = [...vec([]), ...code];
  return [...uleb(entry.length), ...entry];
}

/** A set of kernels compiled once per memory kind and instantiated once per memory (see {@link HeapModule}). */
export class SimdModule<T extends object> extends HeapModule<T> {
  constructor(specs: () => readonly KernelSpec[]) {
    super(
      (shared) => simdModuleBytes(specs(), shared),
      () => specs().map((spec) => spec.name),
    );
  }
}
