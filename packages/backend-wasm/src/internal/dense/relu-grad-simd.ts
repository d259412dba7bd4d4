/**
 * The gradient of `Relu` as one WebAssembly SIMD pass over the heap (`dy` where `x > 0`, else +0), assembled by
 * wasm-assembly/simd-elementwise.ts. A scalar JavaScript loop over 64×256 values costs ≈60–250 µs on this box (the
 * branch on the sign of `x` is unpredictable), more than the three stock kernels it replaces; the f32x4 mask has no
 * branch.
 */
import { constant, gtMask, load, SimdModule } from '../wasm-assembly/simd-elementwise.js';

interface ReluGradSimd {
  readonly reluGrad: (dy: number, x: number, out: number, n: number) => void;
}

const module = new SimdModule<ReluGradSimd>(() => [
  { name: 'reluGrad', inputs: ['dy', 'x'], outputs: ['out'], scalars: [], body: [{ store: 'out', value: gtMask(load('x'), constant(0), load('dy')) }] },
]);

/** `reluGrad(dyOffset, xOffset, outOffset, n)` on `backend`'s heap, or undefined where SIMD cannot run there. */
export function reluGradSimdOf(backend: unknown): ReluGradSimd['reluGrad'] | undefined {
  return module.forBackend(backend)?.reluGrad;
}
