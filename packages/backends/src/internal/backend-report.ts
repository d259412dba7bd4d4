/**
 * `backendReport()`: what each backend candidate would do here, as plain data — the browser's counterpart of
 * `fitstream doctor`'s backend section, for a page's diagnostics panel or a bug report.
 */
import * as tf from '@tensorflow/tfjs';
import { ALL_BACKENDS, AUTO_ORDER, activateCandidate, fixFor, type BackendName, type WasmPaths } from './candidates.js';
import { currentPlatform, defaultWasmThreads, hasNavigatorGpu, sharedMemorySupport, webGpuAdapter, type Platform, type WebGpuAdapterInfo } from './environment.js';
import { describeLoadError } from './optional-package.js';
import { assertWasmThreads } from './select-backend.js';

/** One candidate in a {@link BackendReport}. */
export interface BackendCandidateReport {
  readonly backend: BackendName;
  /** Whether it initialised here (and, for webgpu and webgl, passed a smoke test: a 16×16 matMul read back, synchronous reads). */
  readonly available: boolean;
  /** Why it is not available; for an available one what was checked. */
  readonly reason: string;
  /** How to make it available, where fitstream knows; null otherwise. */
  readonly fix: string | null;
}

/** What {@link backendReport} found: plain, JSON-serialisable data. */
export interface BackendReport {
  /** `node` (Node.js) or `browser` (a page or worker). */
  readonly platform: Platform;
  /** The tfjs backend active before (and again after) the report; null when none was chosen yet. */
  readonly active: string | null;
  /** Every candidate fitstream knows, those of the other platform included (unavailable, with the reason). */
  readonly candidates: readonly BackendCandidateReport[];
  /** What `selectBackend({ prefer: 'auto' })` tries here, in order. */
  readonly autoOrder: readonly BackendName[];
  /** What `'auto'` would select here: the first available of {@link autoOrder}; null when none is. */
  readonly auto: BackendName | null;
  readonly wasm: {
    /** Whether the wasm backend can run threads here: a cross-origin-isolated page with `SharedArrayBuffer`. */
    readonly threadsPossible: boolean;
    readonly crossOriginIsolated: boolean;
    readonly sharedArrayBuffer: boolean;
    /** `navigator.hardwareConcurrency`; null where unknown. */
    readonly hardwareConcurrency: number | null;
    /** The threads `selectBackend` gives the wasm backend by default here. */
    readonly defaultThreads: number;
    /** The threads the wasm backend reported when it initialised; null when it did not. */
    readonly threadsInUse: number | null;
  };
  readonly webgpu: {
    /** Whether `navigator.gpu` exists. */
    readonly navigatorGpu: boolean;
    /** The adapter `navigator.gpu.requestAdapter()` returned; null when none (or no WebGPU). */
    readonly adapter: WebGpuAdapterInfo | null;
  };
}

/** Options of {@link backendReport}. */
export interface BackendReportOptions {
  /**
   * Where the wasm binaries are served from, as for `selectBackend`: pass the same value, since tfjs cannot load
   * them from another place once a first attempt has failed.
   */
  readonly wasmPaths?: WasmPaths;
  /** Threads for the wasm probe, as for `selectBackend` (default: its default here); the first initialisation fixes them. */
  readonly threads?: number;
  /** The candidates to probe (default: all of them). */
  readonly candidates?: readonly BackendName[];
}

interface EngineState {
  backendName: string | null;
  backendInstance: unknown;
}

/**
 * Probes every backend candidate in this environment and says which are available and why not, which one `'auto'`
 * would select, whether wasm can run threads (cross-origin isolation) and which WebGPU adapter there is. Probing
 * initialises backends (loads packages, creates GPU contexts, compiles the wasm module) but leaves the active backend
 * as it was, or unchosen when none was. Do not call it while a fit is running. In a page, pass the `wasmPaths` you
 * give `selectBackend` (and its `threads`, since tfjs fixes them when wasm first initialises).
 *
 * @example
 * ```ts
 * const report = await backendReport({ wasmPaths: '/wasm/' });
 * console.table(report.candidates);   // backend, available, reason, fix
 * report.auto;                        // e.g. 'webgl'
 * report.wasm.threadsPossible;        // false unless the page is cross-origin isolated
 * ```
 */
export async function backendReport(options: BackendReportOptions = {}): Promise<BackendReport> {
  const platform = currentPlatform();
  const engine = tf.engine() as unknown as EngineState;
  const active = engine.backendName ?? null;
  const memory = sharedMemorySupport();
  const defaultThreads = defaultWasmThreads(platform, memory);
  if (options.threads !== undefined) assertWasmThreads(options.threads);
  const threads = options.threads ?? defaultThreads;
  const adapter = await webGpuAdapter().catch(() => null);
  const candidates: BackendCandidateReport[] = [];
  let threadsInUse: number | null = null;
  try {
    for (const backend of options.candidates ?? ALL_BACKENDS) {
      try {
        const { wasmThreads } = await activateCandidate(backend, platform, { threads, wasmPaths: options.wasmPaths });
        if (wasmThreads !== undefined) threadsInUse = wasmThreads;
        const checked = backend === 'webgpu' || backend === 'webgl' ? 'initialised; passed a matMul read-back smoke test' : 'initialised';
        candidates.push({ backend, available: true, reason: wasmThreads === undefined ? checked : `${checked}; ${wasmThreads} thread${wasmThreads === 1 ? '' : 's'}`, fix: null });
      } catch (error) {
        candidates.push({ backend, available: false, reason: describeLoadError(error), fix: fixFor(backend, error) ?? null });
      }
    }
  } finally {
    await restore(active);
  }
  const available = new Set(candidates.filter((c) => c.available).map((c) => c.backend));
  const autoOrder = AUTO_ORDER[platform];
  return {
    platform,
    active,
    candidates,
    autoOrder,
    auto: autoOrder.find((b) => available.has(b)) ?? null,
    wasm: { threadsPossible: platform === 'browser' && memory.crossOriginIsolated && memory.sharedArrayBuffer, ...memory, defaultThreads, threadsInUse },
    webgpu: { navigatorGpu: hasNavigatorGpu(), adapter: adapter?.info ?? null },
  };
}

/** Makes `name` the active backend again; with none, returns tfjs to "choose the best on first use". */
async function restore(name: string | null): Promise<void> {
  if (name !== null && tf.engine().registryFactory[name]) {
    await tf.setBackend(name);
    return;
  }
  const engine = tf.engine() as unknown as EngineState;
  engine.backendName = null;
  engine.backendInstance = null;
}
