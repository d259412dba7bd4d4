/**
 * Calling other wasm kernels from inside a kernel, and freeing what they allocate.
 *
 * A kernel function runs below the engine: tensors it creates through other kernels are raw `TensorInfo`s that the
 * engine never sees, so `tf.tidy` cannot free them. {@link withKernelScope} owns every intermediate and frees all of
 * them except the returned output, also when a step throws.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { Tf, WasmBackendLike } from './wasm-kernel-types.js';

/** The native wasm kernels the replacements are built from. */
const BUILDING_BLOCKS = [
  'Concat',
  'Conv2D',
  'DepthwiseConv2dNative',
  'PadV2',
  'Reshape',
  'Reverse',
  'Slice',
  'Sum',
  'Transpose',
] as const;

/** Name of a native wasm kernel a replacement may call through {@link KernelScope.run}. */
export type BuildingBlock = (typeof BUILDING_BLOCKS)[number];

/** Kernel functions resolved once at install time, so later registry changes (including ours) cannot loop back. */
export type KernelTable = Readonly<Record<BuildingBlock, KernelFunc>>;

/** Per-dimension padding in the `[before, after]` form PadV2 and explicit conv padding use. */
export type Paddings = Array<[number, number]>;

/** Convolution geometry passed to {@link KernelScope.conv2d} / {@link KernelScope.depthwiseConv2d} (NHWC). */
export interface ConvGeometry {
  readonly strides: [number, number];
  readonly dilations: [number, number];
  /** `[top, bottom, left, right]`; negative values crop the input instead of padding it. */
  readonly pads: readonly [number, number, number, number];
}

/**
 * Looks up the native wasm kernels the replacements call.
 * @throws Error naming the first kernel the installed tfjs-backend-wasm does not provide.
 */
export function resolveKernelTable(tf: Tf): KernelTable {
  const table: Partial<Record<BuildingBlock, KernelFunc>> = {};
  for (const name of BUILDING_BLOCKS) {
    table[name] = requireWasmKernel(tf, name).kernelFunc;
  }
  return table as KernelTable;
}

/** The registered wasm kernel config for `name`, or a clear error if tfjs-backend-wasm has none. */
export function requireWasmKernel(tf: Tf, name: string): KernelConfig {
  const config = tf.getKernel(name, 'wasm') as KernelConfig | undefined;
  if (config === undefined) {
    throw new Error(
      `installWasmKernels: the wasm backend has no '${name}' kernel to build on; is @tensorflow/tfjs-backend-wasm 4.22 installed?`,
    );
  }
  return config;
}

/** Runs native wasm kernels and remembers every tensor they allocate until {@link KernelScope.disposeAll}. */
export class KernelScope {
  readonly #owned = new Set<TensorInfo>();

  constructor(
    private readonly table: KernelTable,
    readonly backend: WasmBackendLike,
  ) {}

  /** Runs a building-block kernel; its output is owned by this scope. */
  run(name: BuildingBlock, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
    return this.adopt(single(this.table[name]({ inputs, backend: this.backend, attrs }), name));
  }

  /** Takes ownership of a tensor produced outside {@link run} (e.g. by an original kernel). */
  adopt(info: TensorInfo): TensorInfo {
    this.#owned.add(info);
    return info;
  }

  /** Removes `info` from the scope so {@link disposeAll} leaves it alive (the kernel's output). */
  release(info: TensorInfo): TensorInfo {
    if (!this.#owned.delete(info)) {
      // A borrowed tensor (an input, or an input passed through unchanged) must not be returned as-is: the engine
      // would wrap the same dataId without a reference of its own. A Reshape to the same shape adds that reference.
      return single(this.table.Reshape({ inputs: { x: info }, backend: this.backend, attrs: { shape: info.shape } }), 'Reshape');
    }
    return info;
  }

  /** Frees every owned intermediate. */
  disposeAll(): void {
    for (const info of this.#owned) {
      this.backend.disposeData(info.dataId);
    }
    this.#owned.clear();
  }

  /** Reshape without copying (shares the heap buffer, adds a reference). */
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Transpose; permutations that only move size-1 axes become a free reshape. */
  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    const shape = perm.map((axis) => dim(x.shape, axis));
    const nonUnit = perm.filter((axis) => dim(x.shape, axis) !== 1);
    const isMonotonic = nonUnit.every((axis, i) => i === 0 || axis > (nonUnit[i - 1] ?? -1));
    return isMonotonic ? this.reshape(x, shape) : this.run('Transpose', { x }, { perm });
  }

  /** Zero padding; returns `x` itself (borrowed, not owned) when there is nothing to pad. */
  pad(x: TensorInfo, paddings: Paddings): TensorInfo {
    if (paddings.every(([before, after]) => before === 0 && after === 0)) {
      return x;
    }
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Slice; returns `x` itself (borrowed) when the slice is the whole tensor. */
  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === dim(x.shape, i))) {
      return x;
    }
    return this.run('Slice', { x }, { begin, size });
  }

  /** Concatenates along `axis`. */
  concat(infos: TensorInfo[], axis: number): TensorInfo {
    // Concat is the one multi-input kernel: tfjs passes its inputs as an array in the inputs slot.
    return this.run('Concat', infos as unknown as Record<string, TensorInfo>, { axis });
  }

  /** Reverses the given axes. */
  reverse(x: TensorInfo, dims: number[]): TensorInfo {
    return this.run('Reverse', { x }, { dims });
  }

  /** Sums over `axis`, dropping it (a free reshape when the axis has size 1). */
  sumAxis(x: TensorInfo, axis: number): TensorInfo {
    if (dim(x.shape, axis) === 1) {
      return this.reshape(
        x,
        x.shape.filter((_, i) => i !== axis),
      );
    }
    return this.run('Sum', { x }, { axis: [axis], keepDims: false });
  }

  /**
   * Inserts `stride - 1` zeros after every row/column of an NHWC tensor (the "dilated" gradient of a strided conv),
   * using only reshape + pad: [B,H,W,C] -> [B,H,1,W,1,C] -> pad the unit axes -> [B,H*sh,W*sw,C].
   * The trailing `stride - 1` zeros at the end are harmless: they behave like extra bottom/right padding.
   */
  upsampleWithZeros(x: TensorInfo, [sh, sw]: [number, number]): TensorInfo {
    if (sh === 1 && sw === 1) {
      return x;
    }
    const [b, h, w, c] = nhwc(x.shape);
    const expanded = this.reshape(x, [b, h, 1, w, 1, c]);
    const padded = this.pad(expanded, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    return this.reshape(padded, [b, h * sh, w * sw, c]);
  }

  /** XNNPACK Conv2D (NHWC) with explicit, possibly negative, padding. */
  conv2d(x: TensorInfo, filter: TensorInfo, geometry: ConvGeometry): TensorInfo {
    return this.#convolve('Conv2D', x, filter, geometry);
  }

  /** XNNPACK depthwise Conv2D (NHWC) with explicit, possibly negative, padding. */
  depthwiseConv2d(x: TensorInfo, filter: TensorInfo, geometry: ConvGeometry): TensorInfo {
    return this.#convolve('DepthwiseConv2dNative', x, filter, geometry);
  }

  /** Runs an NHWC convolution kernel with the geometry's strides and dilations, cropping where its pads are negative. */
  #convolve(kernel: 'Conv2D' | 'DepthwiseConv2dNative', x: TensorInfo, filter: TensorInfo, geometry: ConvGeometry): TensorInfo {
    const { input, pad } = this.#applyNegativePads(x, geometry.pads);
    return this.run(kernel, { x: input, filter }, { strides: geometry.strides, dilations: geometry.dilations, pad, dataFormat: 'NHWC' });
  }

  /** Negative padding means "crop": convolutions only accept non-negative pads, so crop with a Slice first. */
  #applyNegativePads(
    x: TensorInfo,
    [top, bottom, left, right]: readonly [number, number, number, number],
  ): { input: TensorInfo; pad: number[][] } {
    const [b, h, w, c] = nhwc(x.shape);
    const cropTop = Math.max(0, -top);
    const cropBottom = Math.max(0, -bottom);
    const cropLeft = Math.max(0, -left);
    const cropRight = Math.max(0, -right);
    const height = h - cropTop - cropBottom;
    const width = w - cropLeft - cropRight;
    if (height <= 0 || width <= 0) {
      throw new Error(`fitstream wasm kernel: padding [${top},${bottom},${left},${right}] crops away the whole input`);
    }
    const input = this.slice(x, [0, cropTop, cropLeft, 0], [b, height, width, c]);
    const pad = [
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ];
    return { input, pad };
  }
}

/**
 * Runs `body` with a fresh {@link KernelScope} and frees every intermediate afterwards, keeping only the returned
 * tensor alive.
 */
export function withKernelScope(
  table: KernelTable,
  backend: WasmBackendLike,
  body: (scope: KernelScope) => TensorInfo,
): TensorInfo {
  const scope = new KernelScope(table, backend);
  try {
    return scope.release(body(scope));
  } finally {
    scope.disposeAll();
  }
}

/** Size of axis `axis`, failing loudly instead of propagating `undefined` into shape arithmetic. */
export function dim(shape: readonly number[], axis: number): number {
  const size = shape[axis < 0 ? shape.length + axis : axis];
  if (size === undefined) {
    throw new Error(`fitstream wasm kernel: axis ${axis} out of range for shape [${shape.join(',')}]`);
  }
  return size;
}

/** The four dims of a rank-4 shape. */
export function nhwc(shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4) {
    throw new Error(`fitstream wasm kernel: expected a rank-4 tensor, got shape [${shape.join(',')}]`);
  }
  return [dim(shape, 0), dim(shape, 1), dim(shape, 2), dim(shape, 3)];
}

/** The only output of a kernel call, or an error naming the kernel. */
export function single(result: TensorInfo | TensorInfo[], name: string): TensorInfo {
  if (Array.isArray(result)) {
    const [first] = result;
    if (result.length !== 1 || first === undefined) {
      throw new Error(`fitstream wasm kernel: '${name}' returned ${result.length} outputs, expected 1`);
    }
    return first;
  }
  return result;
}
