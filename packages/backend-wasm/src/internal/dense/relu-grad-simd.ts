/**
 * The gradient of `Relu` as one WebAssembly SIMD pass over the heap (`dy` where `x > 0`, else +0), assembled by
 * wasm-assembly/simd-elementwise.ts. A scalar JavaScript loop over 64×256 values costs ≈60–250 µs on this box (the
 * branch on the sign of `x` is unpredictable), more than the three stock kernels it replaces; the f32x4 mask has no
 * branch.
 */
import { constant, gtMask, load, SimdModule, type WasmMemory } from '../wasm-assembly/simd-elementwise.js';

interface ReluGradSimd {
  readonly reluGrad: (dy: number, x: number, out: number, n: number) => void;
}

const module = new SimdModule<ReluGradSimd>(() => [
  { name: 'reluGrad', inputs: ['dy', 'x'], outputs: ['out'], scalars: [], body: [{ store: 'out', value: gtMask(load('x'), constant(0), load('dy')) }] },
]);

/** Where tfjs-backend-wasm's Emscripten glue keeps the heap's `WebAssembly.Memory` (as in fused-update-kernels.ts). */
interface EmscriptenModule {
  wasmMemory?: unknown;
  asm?: Record<string, unknown>;
  wasmExports?: Record<string, unknown>;
  HEAPU8?: Uint8Array;
}

const memories = new WeakMap<object, WasmMemory | null>();

function heapMemory(glue: EmscriptenModule): WasmMemory | null {
  let memory = memories.get(glue);
  if (memory === undefined) {
    const heap = glue.HEAPU8?.buffer;
    const candidates = [glue.wasmMemory, glue.asm?.['memory'], glue.wasmExports?.['memory'], ...Object.values(glue.asm ?? {})];
    memory = candidates.find((c): c is WasmMemory => typeof c === 'object' && c !== null && heap !== undefined && (c as WasmMemory).buffer === heap) ?? null;
    memories.set(glue, memory);
  }
  return memory;
}

/** `reluGrad(dyOffset, xOffset, outOffset, n)` on `backend`'s heap, or undefined where SIMD cannot run there. */
export function reluGradSimdOf(backend: unknown): ReluGradSimd['reluGrad'] | undefined {
  const glue = (backend as { wasm?: EmscriptenModule | null } | null)?.wasm;
  if (typeof glue !== 'object' || glue === null) return undefined;
  const memory = heapMemory(glue);
  return memory === null ? undefined : module.for(memory)?.reluGrad;
}
