/**
 * Routes tfjs' gradients of `Relu`, `Softmax` and of a bias `Add` through one kernel each ({@link RELU_GRAD},
 * {@link SOFTMAX_GRAD}, {@link BIAS_GRAD}) where those kernels are registered for the active backend, and through tfjs' own gradient otherwise — so other
 * backends, and wasm after `uninstallWasmKernels`, are unchanged. Same pattern as the `ClipByValue` gradient
 * (kernels/clip-by-value-grad.ts): the gradient registry is global, the decision is made per call.
 */
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../kernels/wasm-kernel-types.js';
import { BIAS_GRAD, RELU_GRAD, SOFTMAX_GRAD } from './step-kernels.js';

let routed = false;

/** Whether `kernel` can take this gradient call: registered on the active backend, float32 operands. */
function fused(tf: Tf, kernel: string, ...tensors: Tensor[]): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined && tensors.every((t) => t.dtype === 'float32');
}

/** Whether `bias` is a rank-1 tensor added along the last axis of `other`, which has the gradient's shape. */
function isBias(bias: Tensor, other: Tensor, dy: Tensor): boolean {
  return bias.rank === 1 && dy.rank >= 2 && bias.shape[0] === dy.shape[dy.rank - 1] && other.rank === dy.rank && other.shape.every((d, i) => d === dy.shape[i]);
}

/** Wraps tfjs' `Relu`, `Softmax` and `Add` gradients once per process (see the module comment). */
export function routeStepGradients(tf: Tf): void {
  if (routed) return;
  const relu = tf.getGradient('Relu');
  const softmax = tf.getGradient('Softmax');
  const add = tf.getGradient('Add');
  if (relu !== undefined) {
    tf.registerGradient({
      kernelName: 'Relu',
      inputsToSave: relu.inputsToSave ?? ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as Tensor[];
        if (x === undefined || !fused(tf, RELU_GRAD, dy as Tensor, x)) return relu.gradFunc(dy, saved, attrs);
        return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: dy as Tensor, x }, {}) as Tensor };
      },
    });
  }
  if (softmax !== undefined) {
    tf.registerGradient({
      kernelName: 'Softmax',
      outputsToSave: softmax.outputsToSave ?? [true],
      gradFunc: (dy, saved, attrs) => {
        const [y] = saved as Tensor[];
        const dim = attrs['dim'] as number | undefined;
        // tfjs only supports softmax over the last axis; anything else goes to its own gradient (and its error).
        const lastAxis = y !== undefined && (dim === undefined || dim === -1 || dim === y.rank - 1);
        if (y === undefined || !lastAxis || !fused(tf, SOFTMAX_GRAD, dy as Tensor, y)) return softmax.gradFunc(dy, saved, attrs);
        return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { dy: dy as Tensor, y }, {}) as Tensor };
      },
    });
  }
  if (add !== undefined) {
    tf.registerGradient({
      kernelName: 'Add',
      inputsToSave: add.inputsToSave ?? ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const stock = add.gradFunc(dy, saved, attrs);
        const [a, b] = saved as Tensor[];
        const g = dy as Tensor;
        if (a === undefined || b === undefined || !fused(tf, BIAS_GRAD, g, a, b)) return stock;
        // A dense layer's bias: the full operand's gradient stays tfjs' (a reshape of dy), the bias' is one kernel.
        const side = isBias(b, a, g) ? 'b' : isBias(a, b, g) ? 'a' : undefined;
        if (side === undefined) return stock;
        return { ...stock, [side]: () => tf.engine().runKernel(BIAS_GRAD, { dy: g }, {}) as Tensor };
      },
    });
  }
  routed = true;
}
