/**
 * The seam with `@fitstream/backend-wasm`, fitstream's training kernels for tfjs-backend-wasm (the gradient kernels it
 * lacks, fast transposed matMuls, fused optimizer updates …). It is an optional peer: `selectBackend` loads it with a
 * dynamic `import()` when it selects wasm, so a tfjs-node user never installs it, and says so when it is missing —
 * training then runs on the stock kernels, and a kernel those lack fails with an error that names the package.
 *
 * The option and report types below are that package's `WasmKernelOptions` and `WasmKernelReport`, spelled here because
 * this package does not import it; that package's type tests keep the two equal.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { describeLoadError, importOptional } from './optional-package.js';

/** The package, and the command that installs it. */
export const WASM_KERNELS_PACKAGE = '@fitstream/backend-wasm';
export const WASM_KERNELS_FIX = `npm install ${WASM_KERNELS_PACKAGE}`;

/**
 * Which groups of fitstream's wasm kernels `selectBackend` installs (each on unless `false`): `@fitstream/backend-wasm`'s
 * `WasmKernelOptions`, whose documentation says what each group holds. Written out in both packages on purpose (this
 * package must not import the optional package); backend-wasm's type test keeps the two equal.
 */
export interface WasmKernelGroups {
  /** `BatchMatMul` / `_FusedMatMul` on fitstream's own SIMD GEMM in place (transposed operands read where they lie). */
  readonly matMulTranspose?: boolean;
  /** With `matMulTranspose`: large unbatched products on fitstream's own SIMD GEMM, on a second thread under Node.js. */
  readonly ownGemm?: boolean;
  /** `Conv2DBackpropFilter` (missing in stock wasm) and a faster `Conv2DBackpropInput`. */
  readonly convGradients?: boolean;
  /** `Conv2D` with one input channel at stride 1 (a first layer on grey images) and the 2×2 / stride-2 `MaxPool` as SIMD loops. */
  readonly convForward?: boolean;
  /** `UnsortedSegmentSum` (missing in stock wasm; the gradient of Embedding). */
  readonly embeddingGradient?: boolean;
  /** `DepthwiseConv2dNativeBackpropFilter` / `…Input` (missing in stock wasm). */
  readonly depthwiseGradients?: boolean;
  /** `MaxPoolGrad` (the stock kernel is wrong whenever input height ≠ width). */
  readonly poolGradients?: boolean;
  /** The `Relu` / `Softmax` gradients, the categorical cross-entropy and accuracy, and a `Dense` layer with bias and relu in training, as one kernel each. */
  readonly stepFusions?: boolean;
  /** `GatherV2` and `Slice` copying whole rows on the heap (batch assembly). */
  readonly batchCopies?: boolean;
  /** `Identity` and same-dtype `Cast` sharing their input's memory (the gradient tape's clones). */
  readonly sharedIdentity?: boolean;
  /** The gradient of `ClipByValue` (LSTM/GRU gates) as one kernel. */
  readonly activationGradients?: boolean;
  /** `Tile` as block copies on the heap (tfjs' batch-normalisation gradient tiles a per-channel tensor every step), `Sum` over leading axes and `Add` of a channel bias as SIMD passes. */
  readonly broadcastKernels?: boolean;
  /** tfjs-layers' `BatchNormalization` in training as one forward and one backward kernel (the layer class's `call` is wrapped while installed). */
  readonly batchNormTraining?: boolean;
  /** Fused Adam / RMSProp / momentum / SGD updates, which `applyOptimizerUpdate` finds in tfjs' kernel registry. */
  readonly optimizerUpdates?: boolean;
  /** tfjs-layers' `LSTM` and `GRU` as whole-sequence kernels (forward and backpropagation through time, one kernel each). */
  readonly recurrentLayers?: boolean;
}

/** What fitstream's kernels occupy in the wasm registry (`@fitstream/backend-wasm`'s `WasmKernelReport`). */
export interface InstalledWasmKernels {
  /** Kernels the wasm backend did not have, now provided by fitstream. */
  registered: string[];
  /** Native wasm kernels fitstream has replaced. */
  replaced: string[];
}

/** Why fitstream's wasm kernels are not in use although wasm was selected with them on, and how to get them. */
export interface MissingWasmKernels {
  /** `not installed`, or why `@fitstream/backend-wasm` failed to load. */
  readonly reason: string;
  /** `npm install @fitstream/backend-wasm`. */
  readonly fix: string;
}

/** The part of `@fitstream/backend-wasm` `selectBackend` calls: pass the module itself where a dynamic import cannot find it. */
export interface WasmKernelsModule {
  installWasmKernels(tf: typeof tfjs, options: WasmKernelGroups): InstalledWasmKernels;
  /** Its kernels for tfjs' cpu backend (the row-copying gather, fused optimizer updates); a version without it leaves cpu on the stock kernels. */
  installCpuKernels?(tf: typeof tfjs): InstalledWasmKernels;
}

/** The module given to `selectBackend({ wasmKernelsModule })`, kept for later selections (tfjs has one engine). */
let provided: WasmKernelsModule | undefined;

/** Remembers `module` as `@fitstream/backend-wasm` for every later installation (a bundle cannot import it by name). */
export function provideWasmKernels(module: WasmKernelsModule): void {
  provided = module;
}

/** Whether a module was given (a selection memoized before that must not be reused). */
export const wasmKernelsProvided = (): boolean => provided !== undefined;

/** Outside Node.js a computed import of a bare name resolves nowhere (no node_modules, and bundlers cannot see it). */
const IN_PAGE = !(typeof process !== 'undefined' && typeof process.versions?.node === 'string');
const IN_PAGE_FIX = "import * as wasmKernels from '@fitstream/backend-wasm' and pass selectBackend({ wasmKernelsModule: wasmKernels })";

/**
 * Loads `@fitstream/backend-wasm` and installs the `groups` of its kernels into the active wasm backend. When the
 * package cannot be loaded, returns why and how to install it (the stock kernels stay); an error of the installation
 * itself propagates (the wasm backend then lacks a kernel the replacements build on).
 */
export async function installFitstreamWasmKernels(tf: typeof tfjs, groups: WasmKernelGroups): Promise<{ installed: InstalledWasmKernels } | { missing: MissingWasmKernels }> {
  let kernels: Partial<WasmKernelsModule>;
  try {
    kernels = provided ?? ((await importOptional(WASM_KERNELS_PACKAGE)) as Partial<WasmKernelsModule>);
  } catch (error) {
    return IN_PAGE ? { missing: { reason: 'not in this page', fix: IN_PAGE_FIX } } : { missing: { reason: describeLoadError(error), fix: WASM_KERNELS_FIX } };
  }
  if (typeof kernels.installWasmKernels !== 'function') {
    return { missing: { reason: `the installed ${WASM_KERNELS_PACKAGE} exports no installWasmKernels`, fix: `${WASM_KERNELS_FIX}@latest` } };
  }
  return { installed: kernels.installWasmKernels(tf, groups) };
}

/**
 * Loads `@fitstream/backend-wasm` and installs its kernels for the cpu backend; undefined when the package cannot be
 * loaded or predates them. The cpu backend trains correctly without them (they only save time), so unlike the wasm
 * kernels their absence adds nothing to the log line.
 */
export async function installFitstreamCpuKernels(tf: typeof tfjs): Promise<InstalledWasmKernels | undefined> {
  let kernels: Partial<WasmKernelsModule>;
  try {
    kernels = provided ?? ((await importOptional(WASM_KERNELS_PACKAGE)) as Partial<WasmKernelsModule>);
  } catch {
    return undefined;
  }
  return typeof kernels.installCpuKernels === 'function' ? kernels.installCpuKernels(tf) : undefined;
}

/** The part of the one log line that says fitstream's kernels are missing, and how to install them. */
export function missingKernelsNote(missing: MissingWasmKernels): string {
  const what = missing.reason === 'not installed' || missing.reason === 'not in this page' ? missing.reason : `unavailable (${missing.reason})`;
  return `fitstream's wasm training kernels ${what}: stock kernels, no conv/depthwise/embedding gradients, slower backward pass; ${missing.fix}`;
}

/**
 * `error`, or — when it is tfjs' "Kernel 'X' not registered for backend 'wasm'" — an error that says stock
 * tfjs-backend-wasm lacks that kernel and that `@fitstream/backend-wasm` provides the missing training kernels (with the
 * original as its `cause`). `@fitstream/core`'s trainer rejects `fit` with it; any tfjs training loop on wasm can too.
 *
 * @example
 * ```ts
 * try {
 *   await model.fit(x, y, { epochs: 1 });
 * } catch (error) {
 *   throw explainMissingKernel(error); // "The wasm backend has no 'Conv2DBackpropFilter' kernel … npm install @fitstream/backend-wasm …"
 * }
 * ```
 */
export function explainMissingKernel(error: unknown): unknown {
  const kernel = error instanceof Error ? /Kernel '([^']+)' not registered for backend 'wasm'/.exec(error.message)?.[1] : undefined;
  if (kernel === undefined) return error;
  return new Error(
    `The wasm backend has no '${kernel}' kernel, so this model cannot train on it: stock tfjs-backend-wasm lacks several ` +
      `gradient kernels (conv, depthwise, embedding), which fitstream's wasm training kernels provide. Install them ` +
      `(${WASM_KERNELS_FIX}) and keep selectBackend's wasmKernels option on, or train on another backend.`,
    { cause: error },
  );
}
