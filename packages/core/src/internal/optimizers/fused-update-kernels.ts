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
 * The kernels are plain JavaScript over the backend's own storage (the wasm heap, or the cpu backend's typed
 * arrays), registered under fitstream's own kernel names; {@link applyOptimizerUpdate} calls them.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** Kernel names of the fused updates. */
export const FUSED_KERNELS = {
  adam: 'FitstreamAdamUpdate',
  rmsprop: 'FitstreamRMSPropUpdate',
  momentum: 'FitstreamMomentumUpdate',
  sgd: 'FitstreamSgdUpdate',
} as const;

/** A fused kernel's name. */
export type FusedKernelName = (typeof FUSED_KERNELS)[keyof typeof FUSED_KERNELS];

const fround = Math.fround;

/** Float32 storage of one backend: wasm heap views or the cpu backend's arrays. */
interface FloatStorage {
  allocate(shape: number[]): TensorInfo;
  view(info: TensorInfo): Float32Array;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

interface CpuLike {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
  data: { get(dataId: object): { values?: unknown } | undefined };
}

function floatStorage(backend: unknown, kernel: string): FloatStorage {
  const wasm = backend as Partial<WasmLike>;
  if (typeof wasm.makeOutput === 'function' && typeof wasm.typedArrayFromHeap === 'function') {
    const b = backend as WasmLike;
    return { allocate: (shape) => b.makeOutput(shape, 'float32'), view: (info) => b.typedArrayFromHeap(info) };
  }
  const cpu = backend as Partial<CpuLike>;
  if (typeof cpu.makeTensorInfo === 'function' && typeof cpu.data?.get === 'function') {
    const b = backend as CpuLike;
    return {
      allocate: (shape) => b.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((p, q) => p * q, 1))),
      view: (info) => {
        const values = b.data.get(info.dataId)?.values;
        if (!(values instanceof Float32Array)) throw new Error(`fitstream ${kernel}: tensor data is not a Float32Array`);
        return values;
      },
    };
  }
  throw new Error(`fitstream ${kernel}: runs on the wasm and cpu backends only`);
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

/**
 * Allocates `count` outputs shaped like `value` (before taking any view: an allocation may grow the wasm heap and
 * detach earlier views), checks that every elementwise input has the same size, and returns views of everything.
 */
function prepare(
  kernel: string,
  backend: unknown,
  elementwise: TensorInfo[],
  count: number,
): { outputs: TensorInfo[]; views: Float32Array[]; outViews: Float32Array[]; size: number } {
  const [value] = elementwise;
  if (value === undefined) throw new Error(`fitstream ${kernel}: no inputs`);
  const size = value.shape.reduce((p, q) => p * q, 1);
  for (const info of elementwise) {
    if (info.shape.reduce((p, q) => p * q, 1) !== size) {
      throw new Error(`fitstream ${kernel}: input of shape [${info.shape.join(',')}] does not match the variable's shape [${value.shape.join(',')}]`);
    }
  }
  const storage = floatStorage(backend, kernel);
  const outputs = Array.from({ length: count }, () => storage.allocate([...value.shape]));
  return { outputs, views: elementwise.map((i) => storage.view(i)), outViews: outputs.map((o) => storage.view(o)), size };
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
  const { outputs, views, outViews, size } = prepare(k, backend, infos, 3);
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
  return outputs;
};

/**
 * RMSProp: inputs `value, gradient, ms, mom` (+ `mg` when centered); attrs `decay, momentum, epsilon, learningRate,
 * centered`; outputs `[newValue, newMs, newMom]` (+ `newMg`). Same float32 steps as tfjs' `RMSPropOptimizer`.
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
  const { outputs, views, outViews, size } = prepare(k, backend, infos, names.length - 1);
  const [x, g, ms, mom, mg] = views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array | undefined];
  const [xOut, msOut, momOut, mgOut] = outViews as [Float32Array, Float32Array, Float32Array, Float32Array | undefined];
  if (mg !== undefined && mgOut !== undefined) {
    for (let i = 0; i < size; i++) {
      const gi = g[i]!;
      const msi = fround(fround(ms[i]! * d) + fround(fround(gi * gi) * oneMinusD));
      const mgi = fround(fround(mg[i]! * d) + fround(gi * oneMinusD));
      const denom = fround(Math.sqrt(fround(msi - fround(fround(mgi * mgi) + eps))));
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
  return outputs;
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
  const { outputs, views, outViews, size } = prepare(k, backend, infos, 2);
  const [x, g, acc] = views as [Float32Array, Float32Array, Float32Array];
  const [xOut, accOut] = outViews as [Float32Array, Float32Array];
  for (let i = 0; i < size; i++) {
    const gi = g[i]!;
    const a = fround(fround(mu * acc[i]!) + gi);
    accOut[i] = a;
    xOut[i] = nesterov ? fround(c * fround(gi + fround(a * mu))) + x[i]! : fround(c * a) + x[i]!;
  }
  return outputs;
};

/** Plain SGD: inputs `value, gradient`; attr `learningRate`; output `[newValue]` (tfjs: `add(mul(c, g), value)`). */
const sgd: KernelFunc = ({ inputs, backend, attrs }) => {
  const k = FUSED_KERNELS.sgd;
  const infos = ['value', 'gradient'].map((n) => input(inputs, n, k));
  const c = fround(-numberAttr(attrs, 'learningRate', k));
  const { outputs, views, outViews, size } = prepare(k, backend, infos, 1);
  const [x, g] = views as [Float32Array, Float32Array];
  const [xOut] = outViews as [Float32Array];
  for (let i = 0; i < size; i++) xOut[i] = fround(c * g[i]!) + x[i]!;
  return outputs;
};

const KERNEL_FUNCS: Record<FusedKernelName, KernelFunc> = {
  [FUSED_KERNELS.adam]: adam,
  [FUSED_KERNELS.rmsprop]: rmsprop,
  [FUSED_KERNELS.momentum]: momentum,
  [FUSED_KERNELS.sgd]: sgd,
};

/** The kernel function of a fused update (backend-independent: it works on the wasm and cpu backends). */
export function fusedKernelFunc(name: FusedKernelName): KernelFunc {
  return KERNEL_FUNCS[name];
}

/** Kernel configs of every fused update for `backendName` ('wasm' or 'cpu'). */
export function fusedKernelConfigs(backendName: 'wasm' | 'cpu'): KernelConfig[] {
  return (Object.keys(KERNEL_FUNCS) as FusedKernelName[]).map((kernelName) => ({ kernelName, backendName, kernelFunc: KERNEL_FUNCS[kernelName] }));
}
