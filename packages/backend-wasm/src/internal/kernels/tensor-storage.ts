/**
 * The storage of a tensor's values on the two backends whose kernels in this package run in JavaScript over typed
 * arrays: tfjs-backend-wasm (views of the wasm heap) and tfjs-backend-cpu (the arrays its data map holds). Kernels
 * written against {@link TensorStorage} run unchanged on both: the fused optimizer updates and the row-copying
 * `GatherV2`.
 */
import type { DataType, TensorInfo } from '@tensorflow/tfjs';

/** The dtypes whose values both backends keep as one typed array. */
export type ArrayDtype = 'float32' | 'int32' | 'bool';

/** A tensor's values: `Float32Array` (float32), `Int32Array` (int32) or `Uint8Array` (bool). */
export type ValueArray = Float32Array | Int32Array | Uint8Array;

/** Allocating outputs and viewing values on one backend. */
export interface TensorStorage {
  /**
   * A new tensor of `shape` and `dtype` (its values unset on wasm, zeros on cpu). On wasm an allocation may grow the
   * heap and detach every earlier view: allocate first, then take views.
   */
  allocate(shape: number[], dtype: ArrayDtype): TensorInfo;
  /** The tensor's values, in place (writing to the view writes the tensor). */
  view(info: TensorInfo): ValueArray;
}

/** The part of tfjs-backend-wasm's backend these kernels use. */
interface WasmStorageBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): ValueArray;
}

/** The part of tfjs-backend-cpu's backend these kernels use. */
interface CpuStorageBackend {
  makeTensorInfo(shape: number[], dtype: DataType, values: ValueArray): TensorInfo;
  data: { get(dataId: object): { values?: unknown } | undefined };
}

/** Whether `dtype` is one {@link TensorStorage} handles. */
export function isArrayDtype(dtype: DataType): dtype is ArrayDtype {
  return dtype === 'float32' || dtype === 'int32' || dtype === 'bool';
}

function newArray(dtype: ArrayDtype, size: number): ValueArray {
  return dtype === 'float32' ? new Float32Array(size) : dtype === 'int32' ? new Int32Array(size) : new Uint8Array(size);
}

/**
 * The storage of `backend`: tfjs-backend-wasm's heap or tfjs-backend-cpu's arrays.
 * @throws Error naming `kernel` on any other backend, or when a cpu tensor's values are not a typed array (strings).
 */
export function tensorStorageOf(backend: unknown, kernel: string): TensorStorage {
  const wasm = backend as Partial<WasmStorageBackend> | null;
  if (typeof wasm?.makeOutput === 'function' && typeof wasm.typedArrayFromHeap === 'function') {
    const b = backend as WasmStorageBackend;
    return { allocate: (shape, dtype) => b.makeOutput(shape, dtype), view: (info) => b.typedArrayFromHeap(info) };
  }
  const cpu = backend as Partial<CpuStorageBackend> | null;
  if (typeof cpu?.makeTensorInfo === 'function' && typeof cpu.data?.get === 'function') {
    const b = backend as CpuStorageBackend;
    return {
      allocate: (shape, dtype) => b.makeTensorInfo(shape, dtype, newArray(dtype, shape.reduce((p, q) => p * q, 1))),
      view: (info) => {
        const values = b.data.get(info.dataId)?.values;
        if (!(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) {
          throw new Error(`fitstream ${kernel}: the cpu backend holds this ${info.dtype} tensor's values in no typed array`);
        }
        return values;
      },
    };
  }
  throw new Error(`fitstream ${kernel}: runs on the wasm and cpu backends only`);
}
