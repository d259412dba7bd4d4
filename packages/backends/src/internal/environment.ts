/**
 * What the backend selector needs to know about where it runs: Node.js or a web page (or worker), and in a page whether
 * WebGPU and shared-memory wasm threads can exist. Read from globals through narrow structural types, since this package
 * compiles without DOM types.
 */

/** Where fitstream runs: Node.js (`process.versions.node`), or anything else with a web platform (page, worker). */
export type Platform = 'node' | 'browser';

/** The part of `GPUAdapterInfo` the report shows. */
export interface WebGpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

interface GpuAdapterLike {
  readonly info?: Partial<WebGpuAdapterInfo>;
  requestAdapterInfo?(): Promise<Partial<WebGpuAdapterInfo>>;
}

interface NavigatorLike {
  readonly gpu?: { requestAdapter(options?: object): Promise<GpuAdapterLike | null> };
  readonly hardwareConcurrency?: number;
}

interface WebGlobals {
  readonly navigator?: NavigatorLike;
  readonly crossOriginIsolated?: boolean;
  readonly SharedArrayBuffer?: unknown;
}

const web = (): WebGlobals => globalThis as WebGlobals;

/** `node` where `process.versions.node` is a string, else `browser`. */
export function currentPlatform(): Platform {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string' ? 'node' : 'browser';
}

/** Whether `navigator.gpu` exists (a browser with WebGPU; says nothing about an adapter). */
export function hasNavigatorGpu(): boolean {
  return typeof web().navigator?.gpu?.requestAdapter === 'function';
}

/** What wasm threads need in a page, and what it offers. */
export interface SharedMemorySupport {
  /** `globalThis.crossOriginIsolated` (the page was served with COOP `same-origin` and COEP `require-corp`). */
  readonly crossOriginIsolated: boolean;
  /** Whether `SharedArrayBuffer` exists. */
  readonly sharedArrayBuffer: boolean;
  /** `navigator.hardwareConcurrency`, or null where unknown. */
  readonly hardwareConcurrency: number | null;
}

export function sharedMemorySupport(): SharedMemorySupport {
  const g = web();
  const cores = g.navigator?.hardwareConcurrency;
  return {
    crossOriginIsolated: g.crossOriginIsolated === true,
    sharedArrayBuffer: typeof g.SharedArrayBuffer === 'function',
    hardwareConcurrency: typeof cores === 'number' && cores > 0 ? cores : null,
  };
}

/** The most threads the wasm backend uses by default in a page: tfjs' thread pool gains little past 4 on small models. */
export const MAX_DEFAULT_WASM_THREADS = 4;

/**
 * The default `threads` of the wasm backend: in a cross-origin-isolated page with `SharedArrayBuffer`,
 * min(`navigator.hardwareConcurrency`, 4); else (and always under Node.js, see `assertWasmThreads`) 1.
 */
export function defaultWasmThreads(platform: Platform = currentPlatform(), memory: SharedMemorySupport = sharedMemorySupport()): number {
  if (platform === 'node' || !memory.crossOriginIsolated || !memory.sharedArrayBuffer) return 1;
  return Math.max(1, Math.min(memory.hardwareConcurrency ?? 1, MAX_DEFAULT_WASM_THREADS));
}

/** The WebGPU adapter `navigator.gpu` offers, with its info; `null` where there is no `navigator.gpu` or no adapter. */
export async function webGpuAdapter(): Promise<{ info: WebGpuAdapterInfo } | null> {
  const gpu = web().navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const raw = adapter.info ?? (typeof adapter.requestAdapterInfo === 'function' ? await adapter.requestAdapterInfo() : {});
  return {
    info: {
      vendor: String(raw.vendor ?? ''),
      architecture: String(raw.architecture ?? ''),
      device: String(raw.device ?? ''),
      description: String(raw.description ?? ''),
    },
  };
}
