/**
 * The WebAssembly binary encoding shared by the project's hand-assembled modules (simd-elementwise.ts, the elementwise
 * loop assembler, and kernels/heap-simd-loops.ts, strided loops written instruction by instruction): LEB128 integers,
 * vectors, sections, names, the SIMD opcode prefix, and the layout of a module whose functions run on an imported
 * `env.memory` (https://webassembly.github.io/spec/core/binary/). Written by hand because no WebAssembly toolchain is
 * part of the build; `WebAssembly.validate` checks the bytes at run time.
 */

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** A name: its UTF-8 length, then its bytes. */
export function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** A vector: the item count, then the items. */
export function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A section: its id, its size, then its body. */
export function section(id: number, body: readonly number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
/** The empty block type (`block`/`loop` without a result). */
export const EMPTY_BLOCK = 0x40;

/** A SIMD instruction: prefix 0xfd, then the opcode as unsigned LEB128. */
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];

/** memarg: alignment 2^2 (float32 tensors are only guaranteed 4-byte aligned), offset 0. */
export const MEMARG: readonly number[] = [2, 0];

/** One exported function of {@link heapModuleBytes}. */
export interface HeapFunction {
  readonly name: string;
  /** Parameter value types, in order (no results). */
  readonly params: readonly number[];
  /** The code-section entry: size-prefixed locals and body. */
  readonly code: readonly number[];
}

/**
 * A module importing `env.memory` and exporting `functions` (function i has type i and is exported under its name).
 * Non-shared memory: limits flag 0x00, min 0 (any current size and maximum match). Shared (the threaded build's
 * SharedArrayBuffer heap): flag 0x03, min 0, max 65536 pages — a shared memory import must be declared shared and with
 * a maximum ≥ the imported one's, and 65536 pages (4 GiB) is the largest there is.
 */
export function heapModuleBytes(functions: readonly HeapFunction[], shared: boolean): Uint8Array {
  const types = functions.map((fn) => [0x60, ...vec(fn.params.map((type) => [type])), ...vec([])]);
  const memoryLimits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const imports = vec([[...name('env'), ...name('memory'), 0x02, ...memoryLimits]]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((fn, i) => [...name(fn.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map((fn) => [...fn.code]))),
  ]);
}
