/**
 * `Cast` for the wasm backend without a copy when the dtype does not change: tfjs' tape turns the gradient of every
 * saved-tensor clone into a `Cast` to float32, and the stock wasm kernel copies the tensor even then. Same dtype:
 * the output shares the input's heap memory (see identity.ts for why that is safe); other dtypes go to the original.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

interface RefCounted {
  incRef(dataId: TensorInfo['dataId']): void;
}

/** Creates the `Cast` kernel function. @param original the stock wasm kernel (dtype changes). */
export function createCastKernel(original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const x = requireInput(args.inputs, 'x', 'Cast');
    const backend = args.backend as unknown as Partial<RefCounted>;
    if (args.attrs['dtype'] !== x.dtype || x.dtype === 'string' || typeof backend.incRef !== 'function') {
      return original(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
