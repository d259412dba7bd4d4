/**
 * `Identity` for the wasm backend without the copy.
 *
 * tfjs' tape saves every tensor a gradient needs through `engine.clone`, an `Identity` kernel: an LSTM(64) training
 * step on 32 time steps runs ≈ 1 500 of them. The stock wasm kernel allocates heap memory and copies the tensor each
 * time. Tensors are immutable — no wasm kernel writes into its inputs, and `Variable.assign` swaps the variable's data
 * rather than overwriting it — so the output can share the input's heap memory under a reference count, exactly as
 * the wasm backend's own `Reshape` and the cpu backend's `Identity` do. String tensors go to the original kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

const NAME = 'Identity';

interface RefCounted {
  incRef(dataId: TensorInfo['dataId']): void;
}

/** Creates the `Identity` kernel function. @param original the stock wasm kernel (string tensors). */
export function createIdentityKernel(original: KernelFunc): KernelFunc {
  return toKernelFunc((args) => {
    const x = requireInput(args.inputs, 'x', NAME);
    const backend = args.backend as unknown as Partial<RefCounted>;
    if (x.dtype === 'string' || typeof backend.incRef !== 'function') return original(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
