/**
 * The backend candidates and how each becomes the active tfjs backend, or why it cannot: one place shared by
 * `selectBackend` (which takes the first that works) and `backendReport` (which tries each and restores the previous).
 */
import * as tf from '@tensorflow/tfjs';
import { describeLoadError, importOptional } from './optional-package.js';
import { hasNavigatorGpu, webGpuAdapter, type Platform } from './environment.js';

/** Backends fitstream can select: the native ones under Node.js, the browser ones in a page, and wasm and cpu on both. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Every candidate, in the order the report lists them. */
export const ALL_BACKENDS: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

/** What `'auto'` tries, fastest first, on each platform. */
export const AUTO_ORDER: Readonly<Record<Platform, readonly BackendName[]>> = {
  node: ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
  browser: ['webgpu', 'webgl', 'wasm', 'cpu'],
};

/** Where the wasm binaries are: a folder (URL prefix ending in `/`) or one URL per binary, as tfjs' `setWasmPaths` takes. */
export type WasmPaths =
  | string
  | {
      readonly 'tfjs-backend-wasm.wasm': string;
      readonly 'tfjs-backend-wasm-simd.wasm': string;
      readonly 'tfjs-backend-wasm-threaded-simd.wasm': string;
    };

const PACKAGE: Record<BackendName, string | undefined> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  webgl: undefined, // part of @tensorflow/tfjs
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: undefined,
};

/** How to make each candidate available, where it can be. */
export const FIX: Record<BackendName, string> = {
  // tfjs-node's own install script downloads libtensorflow 2.9 (CUDA 11.2 for the GPU build); fitstream's CLI builds
  // the binding against a TensorFlow pip wheel instead, offline and on current CUDA.
  'tensorflow-gpu': 'python3 -m pip install "tensorflow[and-cuda]" && npx fitstream native install --gpu (@fitstream/cli)',
  tensorflow: 'python3 -m pip install tensorflow-cpu && npx fitstream native install (@fitstream/cli)',
  webgpu: "npm install @tensorflow/tfjs-backend-webgpu and import '@tensorflow/tfjs-backend-webgpu' in the page's entry",
  webgl: '',
  wasm: 'npm install @tensorflow/tfjs-backend-wasm',
  cpu: '',
};

const NATIVE_IN_PAGE_FIX = "in a web page use webgpu, webgl, wasm or cpu (or prefer: 'auto')";
const BROWSER_IN_NODE_FIX = 'under Node.js use tensorflow (tfjs-node) or wasm';

/** A candidate that cannot be used here: the reason and, when fitstream knows one, the fix. */
export class CandidateUnavailable extends Error {
  override readonly name = 'CandidateUnavailable';
  constructor(
    message: string,
    readonly fix: string | undefined,
  ) {
    super(message);
  }
}

/** The fix to report for `candidate`'s failure `error`. */
export function fixFor(candidate: BackendName, error: unknown): string | undefined {
  if (error instanceof CandidateUnavailable) return error.fix;
  return FIX[candidate] || undefined;
}

/** What the wasm candidate needs before tfjs initialises it. */
export interface WasmSetup {
  /** Threads to ask tfjs for (only set outside Node.js: under Node.js tfjs-backend-wasm runs single-threaded). */
  readonly threads: number;
  readonly wasmPaths: WasmPaths | undefined;
}

/** The candidate now active in tfjs. */
export interface ActiveCandidate {
  /** The tfjs backend name (`tensorflow` for both native candidates). */
  readonly name: string;
  /** The wasm backend's threads, as tfjs-backend-wasm reports them after initialisation; undefined on other backends. */
  readonly wasmThreads: number | undefined;
}

/**
 * TensorFlow's C++ runtime prints INFO lines (CPU features…) on stderr, which would bury our one log line. Level 1
 * drops INFO only, keeping warnings and errors; a user's own TF_CPP_MIN_LOG_LEVEL wins. (TensorFlow 2.21 prints two
 * lines while loading, before its absl logging reads any setting; those stay.)
 */
function quietNativeInfoLogs(): void {
  if (process.env['TF_CPP_MIN_LOG_LEVEL'] === undefined) process.env['TF_CPP_MIN_LOG_LEVEL'] = '1';
}

interface WasmModule {
  setWasmPaths?(paths: WasmPaths): void;
  setThreadsCount?(n: number): void;
  getThreadsCount?(): number;
}

/**
 * Loads tfjs-backend-wasm. A literal specifier (it is a required peer), so that a bundler puts it in a lazy chunk of a
 * page's bundle, where a computed `import()` could not be resolved.
 */
const importWasm = (): Promise<unknown> => import('@tensorflow/tfjs-backend-wasm');

/** Refusals that depend only on the platform: native backends in a page, browser backends under Node.js. */
function platformRefusal(candidate: BackendName, platform: Platform): CandidateUnavailable | undefined {
  if (platform === 'browser' && (candidate === 'tensorflow' || candidate === 'tensorflow-gpu')) {
    return new CandidateUnavailable(`needs Node.js: ${PACKAGE[candidate]} is a native addon, which a web page cannot load`, NATIVE_IN_PAGE_FIX);
  }
  if (platform === 'node' && (candidate === 'webgpu' || candidate === 'webgl')) {
    const api = candidate === 'webgpu' ? 'WebGPU' : 'WebGL';
    return new CandidateUnavailable(`a browser backend: ${api} exists only in a web page or worker, not under Node.js`, BROWSER_IN_NODE_FIX);
  }
  return undefined;
}

/** Makes sure tfjs has a factory for `candidate`, loading its package when needed; throws why not. */
async function register(candidate: BackendName, platform: Platform, wasm: WasmSetup): Promise<void> {
  const name = candidate === 'tensorflow-gpu' ? 'tensorflow' : candidate;
  if (candidate === 'tensorflow' || candidate === 'tensorflow-gpu') {
    quietNativeInfoLogs();
    await importOptional(PACKAGE[candidate] as string);
  } else if (candidate === 'webgpu') {
    if (!hasNavigatorGpu()) throw new CandidateUnavailable('this browser has no WebGPU (navigator.gpu is undefined)', 'a browser with WebGPU enabled (Chrome/Edge 113+)');
    // tfjs' factory would fail on a null adapter with a TypeError (and two console warnings); say it plainly instead.
    if (!(await webGpuAdapter())) throw new CandidateUnavailable('navigator.gpu offers no adapter (no usable GPU, or WebGPU is blocked for it)', undefined);
    if (!tf.engine().registryFactory[name]) {
      try {
        await importOptional(PACKAGE.webgpu as string);
      } catch (error) {
        // In a bundle a computed import() of a bare name cannot resolve: the page's entry must import the package.
        const why = platform === 'browser' ? 'not in this page' : describeLoadError(error);
        throw new CandidateUnavailable(`@tensorflow/tfjs-backend-webgpu ${why}`, FIX.webgpu);
      }
    }
  } else if (candidate === 'webgl') {
    if (!tf.engine().registryFactory[name]) throw new CandidateUnavailable('tfjs registered no webgl backend here (no WebGL in this environment)', undefined);
    // WEBGL_VERSION creates a context to find out; 0 means none could be made (tfjs would warn twice and fail).
    if (tf.env().getNumber('WEBGL_VERSION') === 0) throw new CandidateUnavailable('no WebGL context could be created (GPU blocked or disabled)', undefined);
  } else if (candidate === 'wasm') {
    const module = (await importWasm()) as WasmModule;
    const initialised = tf.engine().registry[name] !== undefined;
    if (wasm.wasmPaths !== undefined && !initialised) {
      if (typeof module.setWasmPaths !== 'function') throw new Error('this tfjs-backend-wasm has no setWasmPaths');
      module.setWasmPaths(wasm.wasmPaths);
    }
    if (platform === 'browser' && !initialised) {
      // Must precede the backend's initialisation. Always set in a page: tfjs' own default is every logical core.
      if (typeof module.setThreadsCount !== 'function') throw new Error('this tfjs-backend-wasm has no setThreadsCount');
      module.setThreadsCount(wasm.threads);
      // One thread: the single-threaded build. tfjs otherwise loads its threaded build wherever SharedArrayBuffer
      // exists, whatever the count: a pool of workers started from the text of its own Emscripten factory, which a
      // minifying bundler can break (tfjs issues #4253, #4539: "_scriptDir is not defined" in every worker).
      if (wasm.threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
  }
  if (!tf.engine().registryFactory[name]) throw new Error(`the package loaded but registered no "${name}" backend`);
}

/** Side of the smoke test's matrices: 1 KiB each, past the small-buffer paths a broken GPU stack may still get right. */
const SMOKE_SIZE = 16;

/**
 * A 16×16 matMul read back, then read synchronously, then read back again: a GPU backend whose context tfjs created
 * but that computes garbage or fails on real work (a broken driver, a software renderer without float textures, a
 * WebGPU device lost on a synchronous read) must count as a fallback, not as a silently wrong backend. Small
 * integers, exact in float16 too.
 */
export async function smokeTest(name: string): Promise<void> {
  await checkProduct(name, 'read back');
  // Training reads a few values synchronously (tfjs layers does); a WebGPU stack that loses its device then (Dawn on
  // SwiftShader in headless Chromium does) fails here or on the product after it.
  await checkProduct(name, 'read synchronously');
  await checkProduct(name, 'read back');
}

async function checkProduct(name: string, read: 'read back' | 'read synchronously'): Promise<void> {
  const n = SMOKE_SIZE;
  const a = Array.from({ length: n * n }, (_, k) => ((k * 5) % 7) - 3);
  const b = Array.from({ length: n * n }, (_, k) => ((k * 3) % 5) - 2);
  const expected = Array.from({ length: n * n }, (_, k) => {
    const [i, j] = [Math.floor(k / n), k % n];
    let sum = 0;
    for (let t = 0; t < n; t++) sum += (a[i * n + t] ?? 0) * (b[t * n + j] ?? 0);
    return sum;
  });
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])));
  // An error of the backend itself (a lost device) is the reason too, through the caller's catch.
  let values: ArrayLike<number>;
  try {
    values = read === 'read back' ? await product.data() : product.dataSync();
  } finally {
    product.dispose();
  }
  const wrong = expected.findIndex((e, k) => !(Math.abs((values[k] ?? Number.NaN) - e) <= 1e-3 * Math.max(1, Math.abs(e))));
  if (values.length !== expected.length || wrong !== -1) {
    throw new CandidateUnavailable(`failed a smoke test: a ${n}×${n} matMul on ${name} ${read} ${String(values[wrong])} at [${Math.floor(wrong / n)}, ${wrong % n}] instead of ${String(expected[wrong])}`, undefined);
  }
}

/**
 * Makes `candidate` the active tfjs backend: loads its package, initialises it and, for the GPU backends, checks a
 * small product. Throws why it cannot (a {@link CandidateUnavailable} carries the fix).
 */
export async function activateCandidate(candidate: BackendName, platform: Platform, wasm: WasmSetup): Promise<ActiveCandidate> {
  const refusal = platformRefusal(candidate, platform);
  if (refusal) throw refusal;
  await register(candidate, platform, wasm);
  const name = candidate === 'tensorflow-gpu' ? 'tensorflow' : candidate;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed to initialise`);
  await tf.ready();
  if (candidate === 'webgpu' || candidate === 'webgl') await smokeTest(name);
  // tfjs's cpu backend prints a banner on first use telling Node users to install tfjs-node; our log line already
  // says why cpu was chosen and how to get a faster backend, so mark the banner as shown.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name, wasmThreads: name === 'wasm' ? await wasmThreadsInUse() : undefined };
}

/** tfjs-backend-wasm's own count of its threads, once initialised. */
async function wasmThreadsInUse(): Promise<number | undefined> {
  const module = (await importWasm()) as WasmModule;
  try {
    return typeof module.getThreadsCount === 'function' ? module.getThreadsCount() : undefined;
  } catch {
    return undefined;
  }
}
