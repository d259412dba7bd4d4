import * as tf from '@tensorflow/tfjs';
import type { BackendFallback } from '../events/event-map.js';
import { describeLoadError, importOptional } from './optional-package.js';
import { installFitstreamWasmKernels, missingKernelsNote, type InstalledWasmKernels, type MissingWasmKernels, type WasmKernelGroups } from './wasm-kernels.js';

/** Backends fitstream can select, fastest first. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** `'auto'` tries every backend in order; a name (or list) restricts the candidates. */
export type BackendPreference = 'auto' | BackendName | readonly BackendName[];

/** The outcome of {@link selectBackend}. */
export interface BackendSelection {
  /** The tfjs backend name now active (`tensorflow`, `wasm`, `cpu`). */
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
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  readonly prefer?: BackendPreference;
  /** Where the one log line goes; `null` silences it. Default: `console.error` (stderr, so JSON on stdout stays clean). */
  readonly log?: ((line: string) => void) | null;
  /**
   * On wasm, install fitstream's training kernels from `@fitstream/backend-wasm` when it is installed: the missing
   * gradient kernels (conv, depthwise, embedding), fast transposed matMuls, fused optimizer updates (default `true`);
   * `false` keeps stock tfjs kernels, an object picks kernel groups.
   */
  readonly wasmKernels?: boolean | WasmKernelGroups;
  /**
   * Threads of the wasm backend (default 1). Under Node.js only 1 is possible: tfjs-backend-wasm 4.22 disables its
   * threaded build there (see {@link assertWasmThreads}); outside Node the value goes to `setThreadsCount`.
   */
  readonly threads?: number;
}

const IS_NODE = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * Validates the `threads` option: a whole number ≥ 1, and exactly 1 under Node.js, with the reason when it is not.
 * @throws RangeError for a non-integer or < 1; Error for > 1 under Node.js.
 */
export function assertWasmThreads(threads: number, isNode = IS_NODE): void {
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
}

const ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

const PACKAGE: Record<BackendName, string | undefined> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: undefined,
};

const FIX: Record<BackendName, string> = {
  // tfjs-node's own install script downloads libtensorflow 2.9 (CUDA 11.2 for the GPU build); fitstream's CLI builds
  // the binding against a TensorFlow pip wheel instead, offline and on current CUDA.
  'tensorflow-gpu': 'python3 -m pip install "tensorflow[and-cuda]" && npx fitstream native install --gpu (@fitstream/cli)',
  tensorflow: 'python3 -m pip install tensorflow-cpu && npx fitstream native install (@fitstream/cli)',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm',
  cpu: '',
};

function candidatesOf(prefer: BackendPreference): readonly BackendName[] {
  if (prefer === 'auto') return ORDER;
  const list = typeof prefer === 'string' ? [prefer] : prefer;
  for (const name of list) {
    if (!ORDER.includes(name)) throw new Error(`Unknown backend "${String(name)}"; use one of ${ORDER.join(', ')} or 'auto'.`);
  }
  return list;
}

/**
 * TensorFlow's C++ runtime prints INFO lines (CPU features…) on stderr, which would bury our one log line. Level 1
 * drops INFO only, keeping warnings and errors; a user's own TF_CPP_MIN_LOG_LEVEL wins. (TensorFlow 2.21 prints two
 * lines while loading, before its absl logging reads any setting; those stay.)
 */
function quietNativeInfoLogs(): void {
  if (IS_NODE && process.env['TF_CPP_MIN_LOG_LEVEL'] === undefined) process.env['TF_CPP_MIN_LOG_LEVEL'] = '1';
}

let memo: { key: string; promise: Promise<BackendSelection> } | undefined;

/**
 * Selects the fastest available tfjs backend: `tfjs-node-gpu` → `tfjs-node` → `wasm` → `cpu` (or a user's choice),
 * importing optional packages dynamically. Never silent: returns (and logs one line with) the reason for each fallback.
 * On wasm it installs fitstream's training kernels from `@fitstream/backend-wasm` (an optional peer); without that
 * package the line says so and how to install it, and training runs on the stock wasm kernels.
 * Memoized per preference, since tfjs has one global engine.
 *
 * @example
 * ```ts
 * const { backend, fallbacks } = await selectBackend();          // e.g. 'wasm', tensorflow: not installed
 * const cpuOnly = await selectBackend({ prefer: 'cpu' });
 * ```
 */
export function selectBackend(options: SelectBackendOptions = {}): Promise<BackendSelection> {
  const prefer = options.prefer ?? 'auto';
  try {
    if (options.threads !== undefined) assertWasmThreads(options.threads);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  const key = JSON.stringify([prefer, options.wasmKernels ?? true, options.threads ?? 1]);
  if (memo?.key === key && tf.getBackend() !== undefined) {
    return memo.promise.then((s) => (tf.getBackend() === s.backend ? s : select(prefer, options)));
  }
  const promise = select(prefer, options);
  memo = { key, promise };
  promise.catch(() => (memo = undefined));
  return promise;
}

async function select(prefer: BackendPreference, options: SelectBackendOptions): Promise<BackendSelection> {
  const fallbacks: BackendFallback[] = [];
  for (const candidate of candidatesOf(prefer)) {
    try {
      const pkg = PACKAGE[candidate];
      if (candidate === 'tensorflow' || candidate === 'tensorflow-gpu') quietNativeInfoLogs();
      const loaded = pkg ? await importOptional(pkg) : undefined;
      if (candidate === 'wasm' && options.threads !== undefined && options.threads > 1) {
        // Only reachable outside Node (assertWasmThreads refused it there); must precede the backend's initialisation.
        const setThreadsCount = (loaded as { setThreadsCount?: (n: number) => void } | undefined)?.setThreadsCount;
        if (typeof setThreadsCount !== 'function') throw new Error('this tfjs-backend-wasm has no setThreadsCount');
        setThreadsCount(options.threads);
      }
      const name = candidate === 'tensorflow-gpu' ? 'tensorflow' : candidate;
      if (!tf.engine().registryFactory[name]) throw new Error(`the package loaded but registered no "${name}" backend`);
      const ok = await tf.setBackend(name);
      if (!ok) throw new Error(`tf.setBackend('${name}') failed to initialise`);
      await tf.ready();
      // tfjs's cpu backend prints a banner on first use telling Node users to install tfjs-node; our log line already
      // says why cpu was chosen and how to get a faster backend, so mark the banner as shown.
      if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      const kernels = options.wasmKernels ?? true;
      const outcome = name === 'wasm' && kernels !== false ? await installFitstreamWasmKernels(tf, kernels === true ? {} : kernels) : undefined;
      const wasmKernels = outcome && 'installed' in outcome ? outcome.installed : undefined;
      const wasmKernelsMissing = outcome && 'missing' in outcome ? outcome.missing : undefined;
      const skipped = fallbacks.length === 0 ? '' : ` (skipped ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')})`;
      const message = `fitstream: backend ${name}${skipped}${wasmKernelsMissing ? `; ${missingKernelsNote(wasmKernelsMissing)}` : ''}`;
      if (options.log !== null) (options.log ?? ((l: string) => console.error(l)))(message);
      return { backend: name, candidate, fallbacks, message, wasmKernels, wasmKernelsMissing };
    } catch (error) {
      fallbacks.push({ backend: candidate, reason: describeLoadError(error), fix: FIX[candidate] || undefined });
    }
  }
  throw new Error(`No tfjs backend could be initialised: ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')}.`);
}
