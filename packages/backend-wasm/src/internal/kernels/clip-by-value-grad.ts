/**
 * The gradient of `ClipByValue` (hard sigmoid — the default recurrent activation of tfjs' LSTM and GRU — and
 * `clipByValue` itself) as one wasm kernel instead of five.
 *
 * tfjs' gradient is `where(logicalAnd(x ≥ min, x ≤ max), dy, zerosLike(dy))`: five kernels and four temporary
 * tensors per call, three calls per LSTM time step. `FitstreamClipByValueGrad` computes the same values in one pass
 * (`dy` where `min ≤ x ≤ max`, else +0; NaN in `x` gives 0, as `where` does). The gradient registered for
 * `ClipByValue` runs it when it is registered for the active backend and tfjs' own gradient otherwise, so other
 * backends (and wasm after `uninstallWasmKernels`) are unchanged.
 */
import type { KernelFunc, Tensor } from '@tensorflow/tfjs';
import type { Tf } from './wasm-kernel-types.js';
import { requireInput, toKernelFunc } from './wasm-kernel-types.js';

export const CLIP_BY_VALUE_GRAD = 'FitstreamClipByValueGrad';

/** Creates the fused kernel: inputs `dy`, `x` (float32, same size); attrs `clipValueMin`, `clipValueMax`. */
export function createClipByValueGradKernel(): KernelFunc {
  return toKernelFunc(({ inputs, backend, attrs }) => {
    const dy = requireInput(inputs, 'dy', CLIP_BY_VALUE_GRAD);
    const x = requireInput(inputs, 'x', CLIP_BY_VALUE_GRAD);
    const min = attrs['clipValueMin'] as number;
    const max = attrs['clipValueMax'] as number;
    if (dy.dtype !== 'float32' || x.dtype !== 'float32') throw new Error(`${CLIP_BY_VALUE_GRAD}: float32 inputs expected, got ${dy.dtype} and ${x.dtype}`);
    const out = backend.makeOutput([...dy.shape], 'float32');
    // Views after the allocation: an allocation may grow the heap and detach earlier views.
    const d = backend.typedArrayFromHeap(dy);
    const v = backend.typedArrayFromHeap(x);
    const o = backend.typedArrayFromHeap(out);
    if (d.length !== v.length) throw new Error(`${CLIP_BY_VALUE_GRAD}: dy has ${d.length} values but x has ${v.length}`);
    for (let i = 0; i < d.length; i++) {
      const xi = v[i]!;
      o[i] = xi >= min && xi <= max ? d[i]! : 0;
    }
    return out;
  });
}

let wrapped = false;

/** Wraps tfjs' `ClipByValue` gradient once per process (see the module comment). */
export function routeClipByValueGradient(tf: Tf): void {
  if (wrapped) return;
  const original = tf.getGradient('ClipByValue');
  if (original === undefined) return;
  tf.registerGradient({
    kernelName: 'ClipByValue',
    inputsToSave: original.inputsToSave ?? ['x'],
    gradFunc: (dy, saved, attrs) => {
      if (tf.getKernel(CLIP_BY_VALUE_GRAD, tf.getBackend()) === undefined || (dy as Tensor).dtype !== 'float32') return original.gradFunc(dy, saved, attrs);
      const [x] = saved as Tensor[];
      return { x: () => tf.engine().runKernel(CLIP_BY_VALUE_GRAD, { dy: dy as Tensor, x: x! }, attrs) as Tensor };
    },
  });
  wrapped = true;
}
