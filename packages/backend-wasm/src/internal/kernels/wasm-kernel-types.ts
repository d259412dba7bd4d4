/**
 * Types shared by the wasm kernel replacements.
 *
 * The kernels take the tfjs namespace as a parameter instead of importing `@tensorflow/tfjs` themselves, so they always
 * talk to the same kernel registry and engine as the caller (a second tfjs copy in `node_modules` would otherwise get
 * kernels registered into a registry nobody reads).
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { DataId, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** The tfjs namespace the kernels are installed into. */
export type Tf = typeof tfjs;

/** A float32 or int32 view straight into the wasm heap. */
export type HeapArray = Float32Array | Int32Array | Uint8Array;

/**
 * The part of `BackendWasm` (tfjs-backend-wasm's backend class) the kernels use. Declared structurally because the
 * class is not part of tfjs-backend-wasm's public type surface in a form we can rely on across patch versions;
 * {@link assertWasmBackend} checks it at runtime.
 */
export interface WasmBackendLike {
  /** Decrements the refcount of `dataId` and frees its heap memory once it reaches zero. */
  disposeData(dataId: DataId, force?: boolean): boolean;
  /** Allocates an (uninitialised) output tensor on the wasm heap. */
  makeOutput(shape: number[], dtype: TensorInfo['dtype']): TensorInfo;
  /** A typed-array view of a tensor's heap memory; invalidated whenever the heap grows (any allocation). */
  typedArrayFromHeap(info: TensorInfo): HeapArray;
}

/** The argument every kernel function receives, with the backend narrowed to the wasm one. */
export interface WasmKernelArgs {
  readonly inputs: Parameters<KernelFunc>[0]['inputs'];
  readonly backend: WasmBackendLike;
  readonly attrs: NamedAttrMap;
}

/** Narrows tfjs' untyped `backend: {}` to the wasm backend, failing loudly if a kernel ends up on another backend. */
export function assertWasmBackend(backend: unknown): WasmBackendLike {
  const candidate = backend as Partial<WasmBackendLike> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.disposeData !== 'function' ||
    typeof candidate.makeOutput !== 'function' ||
    typeof candidate.typedArrayFromHeap !== 'function'
  ) {
    throw new Error(
      'fitstream wasm kernel: expected the tfjs-backend-wasm backend instance (disposeData/makeOutput/typedArrayFromHeap)',
    );
  }
  return candidate as WasmBackendLike;
}

/** Reads a required tensor input, with an error that names the kernel instead of a later `undefined.shape`. */
export function requireInput(inputs: WasmKernelArgs['inputs'], name: string, kernelName: string): TensorInfo {
  const info = inputs[name];
  if (info === undefined) {
    throw new Error(`fitstream wasm kernel ${kernelName}: missing input '${name}'`);
  }
  return info;
}

/** Adapts a kernel written against {@link WasmKernelArgs} to tfjs' `KernelFunc` signature. */
export function toKernelFunc(kernel: (args: WasmKernelArgs) => TensorInfo | TensorInfo[]): KernelFunc {
  return ({ inputs, backend, attrs }) => kernel({ inputs, backend: assertWasmBackend(backend), attrs: attrs ?? {} });
}
