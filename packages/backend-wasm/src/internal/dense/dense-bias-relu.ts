/**
 * tfjs-layers' `Dense` with a bias and a relu activation, in training, as one forward kernel with a gradient of its
 * own (`FitstreamDenseBiasRelu`).
 *
 * Under a gradient tape tfjs' `fused.matMul` fuses only a linear activation, so such a layer trains as `BatchMatMul`,
 * `Add` of the bias and `Relu` — three tape nodes, whose saved inputs the tape clones — and backward as `Relu`'s
 * gradient, the bias gradient and the two products. Here:
 *
 * - forward: y = max(x·W + b, 0) as the registered `_FusedMatMul` kernel computes it (on the own GEMM, the bias and
 *   relu applied to C as it is stored: gemm/heap-gemm.ts, gemm/gemm-mat-mul.ts);
 * - gradient: dz = dy where y > 0 and db = Σ dz over the batch in one pass (`FitstreamReluBiasGrad`), then — each
 *   only when the tape needs it — dx = dz·Wᵀ and dW = xᵀ·dz.
 *
 * While installed, the layer class's `call` takes this path on the wasm backend under a gradient tape for float32
 * inputs of rank 2 with a bias and relu; everything else (inference, where tfjs fuses by itself, included) runs the
 * original `call`. {@link restoreDenseLayer} puts the class's own `call` back.
 */
import type { KernelFunc, Tensor } from '@tensorflow/tfjs';
import { ownMatMul } from '../kernels/batch-mat-mul-transpose.js';
import { reluAndBiasGradients } from '../kernels/conv2d-bias-activation.js';
import { LayerCallPatch } from '../kernels/layer-call-patch.js';
import { dim, type KernelTable, single, withKernelScope } from '../kernels/wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type Tf } from '../kernels/wasm-kernel-types.js';

export const DENSE_BIAS_RELU = 'FitstreamDenseBiasRelu';

/**
 * Creates the forward kernel: inputs `x` `[batch, in]`, `kernel` `[in, out]`, `bias` `[out]`; output
 * max(x·kernel + bias, 0) `[batch, out]` on fitstream's own matMul routes (the bias and relu applied to C) while
 * `ownRoutes()` says they are installed (the `matMulTranspose` group), or where none takes the product by the
 * `_FusedMatMul` kernel registered when it runs (with the operands as
 * `[1, batch, in]`·`[1, in, out]`, the rank tfjs' own `fused.matMul` hands it).
 */
export function createDenseBiasReluKernel(tf: Tf, table: KernelTable, ownRoutes: () => boolean): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend } = args;
    const x = requireInput(inputs, 'x', DENSE_BIAS_RELU);
    const kernel = requireInput(inputs, 'kernel', DENSE_BIAS_RELU);
    const bias = requireInput(inputs, 'bias', DENSE_BIAS_RELU);
    const attrs = { transposeA: false, transposeB: false, activation: 'relu', leakyreluAlpha: 0 };
    const own = ownRoutes() ? ownMatMul(backend, { a: x, b: kernel, bias }, attrs, true) : undefined;
    if (own !== undefined) return own;
    const fused = tf.getKernel('_FusedMatMul', 'wasm');
    if (fused === undefined) throw new Error(`${DENSE_BIAS_RELU}: no _FusedMatMul kernel is registered for wasm.`);
    return withKernelScope(table, backend, (scope) => {
      const a = scope.reshape(x, [1, ...x.shape]);
      const b = scope.reshape(kernel, [1, ...kernel.shape]);
      const y = scope.adopt(single(fused.kernelFunc({ inputs: { a, b, bias }, backend, attrs }), DENSE_BIAS_RELU));
      return scope.reshape(y, [dim(x.shape, 0), dim(kernel.shape, 1)]);
    });
  });
}

let gradientRegistered = false;

/** Registers the kernel's gradient (once per process: tfjs' gradient registry has no removal). */
export function registerDenseBiasReluGradient(tf: Tf): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: DENSE_BIAS_RELU,
    inputsToSave: ['x', 'kernel'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [x, kernel, y] = saved as [Tensor, Tensor, Tensor];
      // Computed once, before the closures: the tape calls each of them in a scope of its own.
      const [dz, db] = reluAndBiasGradients(tf, dy as Tensor, y, true);
      return {
        x: () => tf.matMul(dz, kernel, false, true),
        kernel: () => tf.matMul(x, dz, true, false),
        bias: () => db,
      };
    },
  });
  gradientRegistered = true;
}

/** The parts of tfjs-layers' `Dense` read here. */
interface DenseLayerLike {
  readonly activation: { getClassName(): string } | null;
  readonly kernel: { read(): Tensor };
  readonly bias: { read(): Tensor } | null;
}

const patch = new LayerCallPatch();

/** Wraps `Dense.prototype.call` (idempotent); see the module comment. */
export function patchDenseLayer(tf: Tf): void {
  patch.wrapSingleInput<DenseLayerLike>(tf, 'Dense', DENSE_BIAS_RELU, (layer, x) => {
    const { kernel, bias, activation } = layer;
    // Without a tape tfjs fuses bias and activation itself (_FusedMatMul).
    if (tf.engine().state.gradientDepth === 0 || x.rank !== 2 || bias == null || activation?.getClassName().toLowerCase() !== 'relu') return undefined;
    return tf.tidy(() => tf.engine().runKernel(DENSE_BIAS_RELU, { x, kernel: kernel.read(), bias: bias.read() }) as Tensor);
  });
}

/** Puts the layer class's own `call` back exactly (called by `uninstallWasmKernels`). */
export function restoreDenseLayer(): void {
  patch.restore();
}
