import * as tf from '@tensorflow/tfjs';
import { FitstreamInputError } from '@fitstream/util';
import { ALL_BACKENDS, AUTO_ORDER, activateCandidate, fixFor, type BackendName, type WasmPaths } from './candidates.js';
import { currentPlatform, defaultWasmThreads, sharedMemorySupport, type SharedMemorySupport } from './environment.js';
import { describeLoadError } from './optional-package.js';
import {
  installFitstreamCpuKernels,
  installFitstreamWasmKernels,
  missingKernelsNote,
  provideWasmKernels,
  wasmKernelsProvided,
  type InstalledWasmKernels,
  type MissingWasmKernels,
  type WasmKernelGroups,
  type WasmKernelsModule,
} from './wasm-kernels.js';

export type { BackendName, WasmPaths } from './candidates.js';

/**
 * Why a backend candidate was not used: one entry of {@link BackendSelection.fallbacks}, and of the trainer's
 * `backend:selected` event in `@fitstream/core`.
 *
 * @example
 * ```ts
 * const { fallbacks } = await selectBackend();
 * for (const f of fallbacks) console.warn(`${f.backend}: ${f.reason}${f.fix ? ` (fix: ${f.fix})` : ''}`);
 * ```
 */
export interface BackendFallback {
  readonly backend: string;
  readonly reason: string;
  /** How to make this backend available, when fitstream knows. */
  readonly fix: string | undefined;
}

/** `'auto'` tries every backend of the platform in order; a name (or list) restricts the candidates. */
export type BackendPreference = 'auto' | BackendName | readonly BackendName[];

/** The outcome of {@link selectBackend}. */
export interface BackendSelection {
  /** The tfjs backend name now active (`tensorflow`, `webgpu`, `webgl`, `wasm`, `cpu`). */
  readonly backend: string;
  /** The candidate that won. */
  readonly candidate: BackendName;
  /** Why each preferred candidate was skipped, in order. */
  readonly fallbacks: readonly BackendFallback[];
  /** One line for logs. */
  readonly message: string;
  /**
   * The training kernels fitstream registered or replaced on wasm (missing gradients, fast transposed products), from
   * `@fitstream/backend-wasm`; undefined on other backends, with `wasmKernels: false`, or when that package is missing.
   */
  readonly wasmKernels: InstalledWasmKernels | undefined;
  /**
   * On wasm with fitstream's kernels wanted but `@fitstream/backend-wasm` not loadable: why, and the command that
   * installs it (training then runs on the stock kernels, which cannot train conv, depthwise or embedding layers).
   */
  readonly wasmKernelsMissing: MissingWasmKernels | undefined;
  /**
   * On cpu, the kernels fitstream registered or replaced there (a row-copying `GatherV2`, fused optimizer updates) from
   * `@fitstream/backend-wasm`; undefined on other backends, with `cpuKernels: false`, or when that package is missing.
   */
  readonly cpuKernels?: InstalledWasmKernels | undefined;
  /** On wasm, its threads as tfjs-backend-wasm reports them (1 under Node.js and in pages that are not cross-origin isolated). */
  readonly wasmThreads?: number | undefined;
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  readonly prefer?: BackendPreference;
  /**
   * Where the one log line goes; `null` silences it. Default: `console.error` under Node.js (stderr, so JSON on stdout
   * stays clean), `console.info` in a page (where an error would show as a failure in the console).
   */
  readonly log?: ((line: string) => void) | null;
  /**
   * On wasm, install fitstream's training kernels from `@fitstream/backend-wasm` when it is installed: the missing
   * gradient kernels (conv, depthwise, embedding), fast transposed matMuls, fused optimizer updates (default `true`);
   * `false` keeps stock tfjs kernels, an object picks kernel groups.
   */
  readonly wasmKernels?: boolean | WasmKernelGroups;
  /**
   * On cpu, install fitstream's cpu kernels from `@fitstream/backend-wasm` when it is installed (default `true`): batch
   * gathers as row copies and fused optimizer updates, exact and several times faster than tfjs' own (the replicas of
   * `@fitstream/distributed` train on cpu). `false` keeps the stock cpu kernels.
   */
  readonly cpuKernels?: boolean;
  /**
   * Threads of the wasm backend. Under Node.js only 1 is possible: tfjs-backend-wasm 4.22 disables its threaded build
   * there (see {@link assertWasmThreads}). In a page more than 1 needs cross-origin isolation (`SharedArrayBuffer`);
   * there the default is min(`navigator.hardwareConcurrency`, 4), elsewhere 1. More than 1 loads tfjs' threaded
   * build, whose workers run the text of its Emscripten factory: a bundler that compresses it breaks them (tfjs issues
   * #4253, #4539; in Vite keep `build.rolldownOptions.output.minify.compress` off, or use `threads: 1`).
   */
  readonly threads?: number;
  /**
   * Where the wasm binaries (`tfjs-backend-wasm*.wasm`, in `@tensorflow/tfjs-backend-wasm/dist/`) are served from: a
   * URL prefix ending in `/`, or one URL per binary; passed to tfjs' `setWasmPaths` before the wasm backend
   * initialises. Default: tfjs' own lookup (next to the script under Node.js, relative to the page in a browser).
   */
  readonly wasmPaths?: WasmPaths;
  /**
   * `@fitstream/backend-wasm` itself, for a page: a bundle cannot load it by name as Node.js does, so a page imports it
   * (`import * as wasmKernels from '@fitstream/backend-wasm'`) and passes it here once; later selections reuse it.
   */
  readonly wasmKernelsModule?: WasmKernelsModule;
}

const IS_NODE = currentPlatform() === 'node';

/**
 * Validates the `threads` option: a whole number ≥ 1; exactly 1 under Node.js, and in a page that is not
 * cross-origin isolated; with the reason when it is not.
 * @throws RangeError for a non-integer or < 1; Error for > 1 under Node.js or without shared memory.
 *
 * @example
 * ```ts
 * assertWasmThreads(1);   // fine everywhere
 * assertWasmThreads(4);   // throws under Node.js, and in a page that is not cross-origin isolated, saying why
 * ```
 */
export function assertWasmThreads(threads: number, isNode = IS_NODE, memory: SharedMemorySupport = sharedMemorySupport()): void {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`selectBackend: threads must be a whole number ≥ 1, got ${String(threads)}.`);
  }
  if (threads > 1 && isNode) {
    throw new Error(
      `selectBackend: threads: ${threads} is not available under Node.js. tfjs-backend-wasm 4.22 reports no multithread ` +
        'support whenever it runs in Node (flag WASM_HAS_MULTITHREAD_SUPPORT, tfjs issue #3830), and forcing the flag fails: ' +
        'its pthread workers are created from blob: URLs, which Node worker_threads cannot load (ERR_WORKER_PATH). ' +
        'The wasm backend therefore runs single-threaded; use threads: 1 (the default), or the tensorflow backend ' +
        '(@tensorflow/tfjs-node) for multi-core training. Details: docs/decisions/0002-wasm-threads.md.',
    );
  }
  if (threads > 1 && !isNode && !(memory.crossOriginIsolated && memory.sharedArrayBuffer)) {
    throw new Error(
      `selectBackend: threads: ${threads} needs SharedArrayBuffer, which this page does not have: it is not cross-origin ` +
        'isolated. Serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ' +
        'require-corp (the wasm backend then uses min(navigator.hardwareConcurrency, 4) threads by default), or use threads: 1.',
    );
  }
}

function candidatesOf(prefer: BackendPreference): readonly BackendName[] {
  if (prefer === 'auto') return AUTO_ORDER[currentPlatform()];
  const list = typeof prefer === 'string' ? [prefer] : prefer;
  for (const name of list) {
    if (!ALL_BACKENDS.includes(name)) throw new FitstreamInputError('options.prefer', `Unknown backend "${String(name)}"; use one of ${ALL_BACKENDS.join(', ')} or 'auto'.`);
  }
  return list;
}

let memo: { key: string; promise: Promise<BackendSelection> } | undefined;

const defaultLog = (line: string): void => (IS_NODE ? console.error(line) : console.info(line));

/**
 * Selects the fastest available tfjs backend (or the first that works of a user's choice), importing optional
 * packages dynamically. Under Node.js `'auto'` tries `tfjs-node-gpu` → `tfjs-node` → `wasm` → `cpu`; in a web page
 * `webgpu` (with `@tensorflow/tfjs-backend-webgpu` imported by the page, where `navigator.gpu` has an adapter) →
 * `webgl` → `wasm` → `cpu`. A GPU backend must pass a small matMul read back. Never silent: returns (and logs one line
 * with) the reason for each fallback; a candidate of the other platform is a fallback with its reason, not an error.
 * On wasm it installs fitstream's training kernels from `@fitstream/backend-wasm` (an optional peer); without that
 * package the line says so and how to install it, and training runs on the stock wasm kernels.
 * Memoized per options, since tfjs has one global engine.
 *
 * @example
 * ```ts
 * const { backend, fallbacks } = await selectBackend();          // e.g. 'wasm', tensorflow: not installed
 * const cpuOnly = await selectBackend({ prefer: 'cpu' });
 * // in a page, with the wasm binaries copied from @tensorflow/tfjs-backend-wasm/dist/ to /wasm/
 * const inPage = await selectBackend({ prefer: ['webgl', 'wasm'], wasmPaths: '/wasm/' });
 * ```
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const prefer = options.prefer ?? 'auto';
  try {
    if (options.threads !== undefined) assertWasmThreads(options.threads);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  if (options.wasmKernelsModule !== undefined) provideWasmKernels(options.wasmKernelsModule);
  const threads = options.threads ?? defaultWasmThreads();
  const key = JSON.stringify([prefer, options.wasmKernels ?? true, options.cpuKernels ?? true, threads, options.wasmPaths ?? null, wasmKernelsProvided()]);
  if (memo?.key === key && tf.getBackend() !== undefined) {
    return memo.promise.then((s) => (tf.getBackend() === s.backend ? s : select(prefer, options, threads)));
  }
  const promise = select(prefer, options, threads);
  memo = { key, promise };
  promise.catch(() => (memo = undefined));
  return promise;
}

async function select(prefer: BackendPreference, options: SelectBackendOptions, threads: number): Promise<BackendSelection> {
  const fallbacks: BackendFallback[] = [];
  const platform = currentPlatform();
  for (const candidate of candidatesOf(prefer)) {
    try {
      const { name, wasmThreads } = await activateCandidate(candidate, platform, { threads, wasmPaths: options.wasmPaths });
      const kernels = options.wasmKernels ?? true;
      const outcome = name === 'wasm' && kernels !== false ? await installFitstreamWasmKernels(tf, kernels === true ? {} : kernels) : undefined;
      const wasmKernels = outcome && 'installed' in outcome ? outcome.installed : undefined;
      const wasmKernelsMissing = outcome && 'missing' in outcome ? outcome.missing : undefined;
      const cpuKernels = name === 'cpu' && options.cpuKernels !== false ? await installFitstreamCpuKernels(tf) : undefined;
      const skipped = fallbacks.length === 0 ? '' : ` (skipped ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')})`;
      const threadNote = wasmThreads !== undefined && wasmThreads > 1 ? `, ${wasmThreads} threads` : '';
      const message = `fitstream: backend ${name}${threadNote}${skipped}${wasmKernelsMissing ? `; ${missingKernelsNote(wasmKernelsMissing)}` : ''}`;
      if (options.log !== null) (options.log ?? defaultLog)(message);
      return { backend: name, candidate, fallbacks, message, wasmKernels, wasmKernelsMissing, cpuKernels, wasmThreads };
    } catch (error) {
      fallbacks.push({ backend: candidate, reason: describeLoadError(error), fix: fixFor(candidate, error) });
    }
  }
  throw new Error(`No tfjs backend could be initialised: ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')}.`);
}
