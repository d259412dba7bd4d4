// @fitstream/backends: visible tfjs backend selection for any tfjs program — no trainer, rxjs or tsyringe.
// @fitstream/core re-exports these names, so code that imports them from the core keeps working.
export { selectBackend, assertWasmThreads } from './internal/select-backend.js';
export type { BackendName, BackendPreference, BackendSelection, BackendFallback, SelectBackendOptions, WasmPaths } from './internal/select-backend.js';
export { backendReport } from './internal/backend-report.js';
export type { BackendReport, BackendCandidateReport, BackendReportOptions } from './internal/backend-report.js';
export type { Platform, WebGpuAdapterInfo } from './internal/environment.js';
// fitstream's wasm training kernels (installWasmKernels & co.) are @fitstream/backend-wasm, an optional peer that
// selectBackend loads dynamically; these are the types of that seam (docs/migration/0.2-backend-wasm.md).
export { explainMissingKernel } from './internal/wasm-kernels.js';
export type { WasmKernelGroups, InstalledWasmKernels, MissingWasmKernels, WasmKernelsModule } from './internal/wasm-kernels.js';
