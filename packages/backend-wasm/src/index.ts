/**
 * @fitstream/backend-wasm — fitstream's training kernels for `@tensorflow/tfjs-backend-wasm`: the gradient kernels it
 * lacks (conv, depthwise, embedding), a correct `MaxPoolGrad`, transposed matMuls through XNNPACK's fast product,
 * heap copies for batch assembly, shared-memory tape clones, and fused optimizer updates in WebAssembly SIMD that
 * `@fitstream/core`'s trainer finds in tfjs' kernel registry. `selectBackend()` from `@fitstream/core` installs them
 * when it picks wasm and this package is installed; `installWasmKernels(tf)` does it by hand, for any tfjs code.
 * Two of them also pay on tfjs' `cpu` backend (the row-copying gather and the fused updates, in JavaScript):
 * `selectBackend()` installs those when it picks cpu, `installCpuKernels(tf)` by hand.
 *
 * @packageDocumentation
 */
export { installWasmKernels, uninstallWasmKernels, wasmMatMulThreads } from './internal/install-wasm-kernels.js';
export type { MatMulThreadsReport } from './internal/gemm/gemm-mat-mul.js';
export type { WasmKernelOptions, WasmKernelReport } from './internal/install-wasm-kernels.js';
export { installCpuKernels, uninstallCpuKernels } from './internal/install-cpu-kernels.js';
export type { CpuKernelOptions, CpuKernelReport } from './internal/install-cpu-kernels.js';
