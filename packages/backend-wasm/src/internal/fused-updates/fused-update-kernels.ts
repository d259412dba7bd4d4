/**
 * Fused optimizer updates: one kernel call computes a variable's whole update (new value and new slots) in one pass
 * over float32 heap arrays, instead of the ≈8–15 tiny elementwise kernels (each allocating a tensor) that tfjs'
 * optimizers launch per variable.
 *
 * Bit-exact with tfjs: every intermediate that tfjs materialises as a float32 tensor is rounded with `Math.fround`
 * in the same order of operations, and IEEE float32 `+ − × ÷ √` equal the double-precision operation rounded once
 * to float32 (double has more than 2·24 + 2 bits of precision, so double rounding is innocuous). The tests check
 * this against the stock optimizers on the cpu and wasm backends.
 *
 * The seam with `@fitstream/optimizers`: its `applyOptimizerUpdate` (the trainer's optimizer step, through
 * `@fitstream/core`) asks tfjs' kernel registry whether a kernel named in {@link FUSED_KERNELS} is registered for the
 * active backend and runs it through `engine.runKernel` with the inputs and attributes documented on each kernel below;
 * it imports nothing of this package. Each registration also carries {@link FusedUpdateKernelConfig.maxElements}, which
 * it reads to send larger variables through tfjs' own ops. The tests in fused-optimizers.test.ts run its side against
 * these kernels.
 *
 * Two implementations, registered under fitstream's own kernel names:
 * - on the wasm backend, a hand-assembled WebAssembly SIMD module (simd-update-module.ts) instantiated on the backend's
 *   own memory, which updates a variable in one f32x4 pass over the heap (≈1.1 ns/element for Adam, 0.16 for SGD);
 * - elsewhere (the cpu backend, or an engine without WebAssembly SIMD, or a heap that cannot be imported), plain
 *   JavaScript loops over the backend's storage (≈13 ns/element), the reference the SIMD module mirrors.
 * Both run the same float32 operations in the same order, so either is bit-identical to tfjs.
 *
 * Outputs are always new buffers, never the inputs written over: tfjs-backend-wasm's XNNPACK products keep the packed
 * copy of a right operand per tensor id until that tensor's data is disposed, so a weight updated in place would be
 * multiplied with its old values by every product that stays on XNNPACK (inner dimension below 32, say). Tried
 * 2026-12-05 (Adam in place: 264–273 → 249–257 µs a step on the MLP): layer tests diverged from cpu at step 1.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { heapMemoryOf } from '../wasm-assembly/heap-module.js';
import { tensorStorageOf } from '../kernels/tensor-storage.js';
import { type SimdUpdates, simdUpdatesFor } from './simd-update-module.js';

/**
 * Kernel names of the fused updates. `@fitstream/optimizers` spells the same names (its `FUSED_UPDATE_KERNELS`): they
 * are the contract between the packages, which import nothing of each other (tested in fused-optimizers.test.ts).
 */
export const FUSED_KERNELS = {
  adam: 'FitstreamAdamUpdate',
  rmsprop: 'FitstreamRMSPropUpdate',
  momentum: 'FitstreamMomentumUpdate',
  sgd: 'FitstreamSgdUpdate',
} as const;

/** A fused kernel's name. */
export type FusedKernelName = (typeof FUSED_KERNELS)[keyof typeof FUSED_KERNELS];

/** A fused update's registration: tfjs' kernel config plus the hint `applyOptimizerUpdate` (@fitstream/optimizers) reads. */
export interface FusedUpdateKernelConfig extends KernelConfig {
  /** The largest variable (in elements) the kernel should take on `backend`; larger ones are updated with tfjs' ops. */
  readonly maxElements: (backend: unknown) => number;
}

const fround = Math.fround;

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  /** The tensor's byte offset in the heap (tfjs-backend-wasm: `dataIdMap.get(dataId).memoryOffset`). */
  getMemoryOffset?(dataId: object): number;
  /** The Emscripten module (where {@link heapMemoryOf} finds the heap's memory). */
  wasm?: object | null;
}

let simdEnabled = true;

/**
 * Turns the WebAssembly SIMD kernels off (every fused update then takes the JavaScript loop, and
 * {@link fusedMaxElements} the loop's limit) or back on. For tests and measurements.
 */
export function setSimdUpdatesEnabled(enabled: boolean): void {
  simdEnabled = enabled;
}

/** SIMD kernels per Emscripten module (one per wasm backend instance); `null` where they cannot run. */
const simdByModule = new WeakMap<object, SimdUpdates | null>();

/**
 * The SIMD kernels for `backend`: defined on a tfjs-backend-wasm instance whose heap memory could be found and
 * imported by the SIMD module on an engine with WebAssembly SIMD; undefined otherwise (the JavaScript loop then runs).
 */
export function simdUpdatesOf(backend: unknown): SimdUpdates | undefined {
  if (!simdEnabled) return undefined;
  const module = (backend as Partial<WasmLike> | null)?.wasm;
  if (typeof module !== 'object' || module === null || typeof (backend as Partial<WasmLike>).makeOutput !== 'function') return undefined;
  let simd = simdByModule.get(module);
  if (simd === undefined) {
    const memory = heapMemoryOf(backend);
    simd = (memory && simdUpdatesFor(memory)) ?? null;
    simdByModule.set(module, simd);
  }
  return simd ?? undefined;
}

/**
 * The fused JavaScript loop saves ≈14 kernel dispatches (≈70 µs on wasm) per variable but costs ≈13 ns/element
 * against ≈3.5 ns/element for XNNPACK's SIMD elementwise kernels, so it only wins for small variables (measured on
 * wasm, Adam, one process: 64 elements 26 vs 95 µs, 4 096: 122 vs 141 µs, 16 384: 443 vs 190 µs).
 */
export const JS_LOOP_MAX_ELEMENTS = 6144;

/**
 * The largest variable (in elements) for which the fused kernel on the wasm backend `backend` beats tfjs' own
 * elementwise ops: unbounded where the SIMD kernels run, {@link JS_LOOP_MAX_ELEMENTS} for the JavaScript loop (the
 * hint of the wasm registrations). On the cpu backend, whose own ops are plain JavaScript that allocate, the loop wins
 * at every size, and `installCpuKernels` registers it without a limit.
 */
export function fusedMaxElements(backend: unknown): number {
  return simdUpdatesOf(backend) !== undefined ? Number.POSITIVE_INFINITY : JS_LOOP_MAX_ELEMENTS;
}

/** Float32 storage of one backend: wasm heap views or the cpu backend's arrays. */
function floatStorage(backend: unknown, kernel: string): { allocate(shape: number[]): TensorInfo; view(info: TensorInfo): Float32Array } {
  const storage = tensorStorageOf(backend, kernel);
  return {
    allocate: (shape) => storage.allocate(shape, 'float32'),
    view: (info) => {
      const values = storage.view(info);
      if (!(values instanceof Float32Array)) throw new Error(`fitstream ${kernel}: tensor data is not a Float32Array`);
      return values;
    },
  };
}

type Inputs = Parameters<KernelFunc>[0]['inputs'];

function input(inputs: Inputs, name: string, kernel: string): TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new Error(`fitstream ${kernel}: missing input '${name}'`);
  if (info.dtype !== 'float32') throw new Error(`fitstream ${kernel}: input '${name}' must be float32, got ${info.dtype}`);
  return info;
}

function numberAttr(attrs: NamedAttrMap | undefined, name: string, kernel: string): number {
  const value = attrs?.[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`fitstream ${kernel}: attribute '${name}' must be a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The variable's size, after checking that every elementwise input has it. */
function checkedSize(kernel: string, elementwise: TensorInfo[]): { value: TensorInfo; size: number } {
  const [value] = elementwise;
  if (value === undefined) throw new Error(`fitstream ${kernel}: no inputs`);
  const size = value.shape.reduce((p, q) => p * q, 1);
  for (const info of elementwise) {
    if (info.shape.reduce((p, q) => p * q, 1) !== size) {
      throw new Error(`fitstream ${kernel}: input of shape [${info.shape.join(',')}] does not match the variable's shape [${value.shape.join(',')}]`);
    }
  }
  return { value, size };
}

/**
 * Runs one fused update: allocates `count` outputs shaped like the variable (before taking any heap view:
 * an allocation may grow the wasm heap and detach earlier views), then either calls `simd` with the heap byte offsets
 * of the inputs followed by the outputs (where the SIMD kernels run on `backend`), or `loop` with views of everything.
 */
function runFused(
  kernel: string,
  backend: unknown,
  elementwise: TensorInfo[],
  count: number,
  simd: (kernels: SimdUpdates, offsets: number[], size: number) => void,
  loop: (views: Float32Array[], outViews: Float32Array[], size: number) => void,
): TensorInfo[] {
  const { value, size } = checkedSize(kernel, elementwise);
  const kernels = simdUpdatesOf(backend);
  if (kernels !== undefined) {
    const b = backend as WasmLike;
    const outputs = Array.from({ length: count }, () => b.makeOutput([...value.shape], 'float32'));
    const offsetOf = (info: TensorInfo): number => (b.getMemoryOffset ? b.getMemoryOffset(info.dataId) : b.typedArrayFromHeap(info).byteOffset);
    simd(kernels, [...elementwise, ...outputs].map(offsetOf), size);
    return outputs;
  }
  const storage = floatStorage(backend, kernel);
  const outputs = Array.from({ length: count }, () => storage.allocate([...value.shape]));
  loop(
    elementwise.map((i) => storage.view(i)),
    outputs.map((o) => storage.view(o)),
    size,
  );
  return outputs;
}

function scalarOf(backend: unknown, info: TensorInfo, kernel: string): number {
  const values = floatStorage(backend, kernel).view(info);
  const v = values[0];
  if (values.length !== 1 || v === undefined) throw new Error(`fitstream ${kernel}: expected a scalar, got shape [${info.shape.join(',')}]`);
  return v;
}

/**
 * Adam: inputs `value, gradient, m, v, accBeta1, accBeta2`; attrs `beta1, beta2, epsilon, learningRate`;
 * outputs `[newValue, newM, newV]`. Same float32 steps as tfjs' `AdamOptimizer.applyGradients`.
 */
const adam: KernelFunc = ({ inputs, backend, attrs }) => {
  const k = FUSED_KERNELS.adam;
  const names = ['value', 'gradient', 'm', 'v'];
  const infos = names.map((n) => input(inputs, n, k));
  const accBeta1 = scalarOf(backend, input(inputs, 'accBeta1', k), k);
  const accBeta2 = scalarOf(backend, input(inputs, 'accBeta2', k), k);
  const beta1 = numberAttr(attrs, 'beta1', k);
  const beta2 = numberAttr(attrs, 'beta2', k);
  const b1 = fround(beta1);
  const b2 = fround(beta2);
  const oneMinusB1 = fround(1 - beta1);
  const oneMinusB2 = fround(1 - beta2);
  const eps = fround(numberAttr(attrs, 'epsilon', k));
  const negLr = fround(-numberAttr(attrs, 'learningRate', k));
  const c1 = fround(1 - accBeta1);
  const c2 = fround(1 - accBeta2);
  return runFused(
    k,
    backend,
    infos,
    3,
    (simd, [x, g, m, v, xOut, mOut, vOut], size) => simd.adam(x!, g!, m!, v!, xOut!, mOut!, vOut!, size, b1, oneMinusB1, b2, oneMinusB2, c1, c2, eps, negLr),
    (views, outViews, size) => {
      const [x, g, m, v] = views as [Float32Array, Float32Array, Float32Array, Float32Array];
      const [xOut, mOut, vOut] = outViews as [Float32Array, Float32Array, Float32Array];
      for (let i = 0; i < size; i++) {
        const gi = g[i]!;
        const mi = fround(fround(m[i]! * b1) + fround(gi * oneMinusB1));
        const vi = fround(fround(v[i]! * b2) + fround(fround(gi * gi) * oneMinusB2));
        const mHat = fround(mi / c1);
        const vHat = fround(vi / c2);
        const step = fround(fround(mHat / fround(fround(Math.sqrt(vHat)) + eps)) * negLr);
        mOut[i] = mi;
        vOut[i] = vi;
        xOut[i] = step + x[i]!;
      }
    },
  );
};

/**
 * RMSProp: inputs `value, gradient, ms, mom` (+ `mg` when centered); attrs `decay, momentum, epsilon, learningRate,
 * centered`; outputs `[newValue, newMs, newMom]` (+ `newMg`). Same float32 steps as tfjs' `RMSPropOptimizer`, except the
 * centered denominator: √(ms − mg² + ε) as Keras, TensorFlow and PyTorch take it (tfjs 4.22's √(ms − (mg² + ε)) is NaN
 * wherever ms − mg² < ε); the op-for-op path of @fitstream/optimizers computes the same.
 */
const rmsprop: KernelFunc = ({ inputs, backend, attrs }) => {
  const k = FUSED_KERNELS.rmsprop;
  const centered = attrs?.['centered'] === true;
  const names = centered ? ['value', 'gradient', 'ms', 'mom', 'mg'] : ['value', 'gradient', 'ms', 'mom'];
  const infos = names.map((n) => input(inputs, n, k));
  const decay = numberAttr(attrs, 'decay', k);
  const d = fround(decay);
  const oneMinusD = fround(1 - decay);
  const mu = fround(numberAttr(attrs, 'momentum', k));
  const eps = fround(numberAttr(attrs, 'epsilon', k));
  const lr = fround(numberAttr(attrs, 'learningRate', k));
  const simd = (kernels: SimdUpdates, p: number[], size: number): void => {
    if (centered) kernels.rmspropCentered(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!, size, d, oneMinusD, mu, eps, lr);
    else kernels.rmsprop(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, size, d, oneMinusD, mu, eps, lr);
  };
  return runFused(k, backend, infos, names.length - 1, simd, (views, outViews, size) => {
    const [x, g, ms, mom, mg] = views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array | undefined];
    const [xOut, msOut, momOut, mgOut] = outViews as [Float32Array, Float32Array, Float32Array, Float32Array | undefined];
    if (mg !== undefined && mgOut !== undefined) {
      for (let i = 0; i < size; i++) {
        const gi = g[i]!;
        const msi = fround(fround(ms[i]! * d) + fround(fround(gi * gi) * oneMinusD));
        const mgi = fround(fround(mg[i]! * d) + fround(gi * oneMinusD));
        const denom = fround(Math.sqrt(fround(fround(msi - fround(mgi * mgi)) + eps)));
        const momi = fround(fround(mom[i]! * mu) + fround(fround(gi * lr) / denom));
        msOut[i] = msi;
        mgOut[i] = mgi;
        momOut[i] = momi;
        xOut[i] = x[i]! - momi;
      }
    } else {
      for (let i = 0; i < size; i++) {
        const gi = g[i]!;
        const msi = fround(fround(ms[i]! * d) + fround(fround(gi * gi) * oneMinusD));
        const momi = fround(fround(mom[i]! * mu) + fround(fround(gi * lr) / fround(Math.sqrt(fround(msi + eps)))));
        msOut[i] = msi;
        momOut[i] = momi;
        xOut[i] = x[i]! - momi;
      }
    }
  });
};

/**
 * Momentum SGD: inputs `value, gradient, acc`; attrs `momentum, learningRate, nesterov`; outputs
 * `[newValue, newAcc]`. Same float32 steps as tfjs' `MomentumOptimizer`.
 */
const momentum: KernelFunc = ({ inputs, backend, attrs }) => {
  const k = FUSED_KERNELS.momentum;
  const infos = ['value', 'gradient', 'acc'].map((n) => input(inputs, n, k));
  const mu = fround(numberAttr(attrs, 'momentum', k));
  const c = fround(-numberAttr(attrs, 'learningRate', k));
  const nesterov = attrs?.['nesterov'] === true;
  return runFused(
    k,
    backend,
    infos,
    2,
    (simd, [x, g, acc, xOut, accOut], size) => simd[nesterov ? 'nesterov' : 'momentum'](x!, g!, acc!, xOut!, accOut!, size, mu, c),
    (views, outViews, size) => {
      const [x, g, acc] = views as [Float32Array, Float32Array, Float32Array];
      const [xOut, accOut] = outViews as [Float32Array, Float32Array];
      for (let i = 0; i < size; i++) {
        const gi = g[i]!;
        const a = fround(fround(mu * acc[i]!) + gi);
        accOut[i] = a;
        xOut[i] = nesterov ? fround(c * fround(gi + fround(a * mu))) + x[i]! : fround(c * a) + x[i]!;
      }
    },
  );
};

/** Plain SGD: inputs `value, gradient`; attr `learningRate`; output `[newValue]` (tfjs: `add(mul(c, g), value)`). */
const sgd: KernelFunc = ({ inputs, backend, attrs }) => {
  const k = FUSED_KERNELS.sgd;
  const infos = ['value', 'gradient'].map((n) => input(inputs, n, k));
  const c = fround(-numberAttr(attrs, 'learningRate', k));
  return runFused(
    k,
    backend,
    infos,
    1,
    (simd, [x, g, xOut], size) => simd.sgd(x!, g!, xOut!, size, c),
    (views, outViews, size) => {
      const [x, g] = views as [Float32Array, Float32Array];
      const [xOut] = outViews as [Float32Array];
      for (let i = 0; i < size; i++) xOut[i] = fround(c * g[i]!) + x[i]!;
    },
  );
};

const KERNEL_FUNCS: Record<FusedKernelName, KernelFunc> = {
  [FUSED_KERNELS.adam]: adam,
  [FUSED_KERNELS.rmsprop]: rmsprop,
  [FUSED_KERNELS.momentum]: momentum,
  [FUSED_KERNELS.sgd]: sgd,
};

/**
 * The kernel function of a fused update (backend-independent: it works on the wasm and cpu backends, with the SIMD
 * module where {@link simdUpdatesOf} gives one and the JavaScript loop otherwise).
 */
export function fusedKernelFunc(name: FusedKernelName): KernelFunc {
  return KERNEL_FUNCS[name];
}
