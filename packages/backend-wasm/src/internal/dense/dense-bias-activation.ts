/**
 * tfjs-layers' `Dense` with a bias, in training, as one forward kernel with a gradient of its own
 * (`FitstreamDenseBiasActivation`, activation `'relu'` or `'linear'`).
 *
 * Under a gradient tape tfjs' `fused.matMul` fuses only a linear activation, so a relu layer trains as `BatchMatMul`,
 * `Add` of the bias and `Relu` — three tape nodes, whose saved inputs the tape clones — and backward as `Relu`'s
 * gradient, the bias gradient and the two products; a softmax (or other) layer as `BatchMatMul`, `Add` and its
 * activation; a linear one as `_FusedMatMul` with three `Reshape`s to rank 3 and back, forward and backward. Here:
 *
 * - forward: y = x·W + b, with max(·, 0) for relu, as the registered `_FusedMatMul` kernel computes it (on the own
 *   GEMM, the bias and relu applied to C as it is stored: gemm/heap-gemm.ts, gemm/gemm-mat-mul.ts); another activation
 *   (softmax, tanh, …) is then applied by the layer as tfjs-layers does;
 * - gradient: dz = dy where y > 0 and db = Σ dz over the batch in one pass (`FitstreamReluBiasGrad`; for linear dz = dy
 *   and db one `FitstreamBiasGrad` pass), then — each only when the tape needs it — dx = dz·Wᵀ and dW = xᵀ·dz.
 *
 * While installed, the layer class's `call` takes this path on the wasm backend under a gradient tape for float32
 * inputs of rank 2 with a bias; everything else (inference, where tfjs fuses by itself, included) runs the original
 * `call`. {@link restoreDenseLayer} puts the class's own `call` back.
 */
import type { KernelFunc, Tensor } from '@tensorflow/tfjs';
import { ownMatMul } from '../kernels/batch-mat-mul-transpose.js';
import { reluAndBiasGradients } from '../kernels/conv2d-bias-activation.js';
import { LayerCallPatch } from '../kernels/layer-call-patch.js';
import { dim, type KernelTable, single, withKernelScope } from '../kernels/wasm-kernel-scope.js';
import { requireInput, toKernelFunc, type Tf } from '../kernels/wasm-kernel-types.js';
import { BIAS_GRAD } from './step-kernels.js';

export const DENSE_BIAS_ACTIVATION = 'FitstreamDenseBiasActivation';

/** The activations the kernel applies itself; the layer applies any other after it (see the module comment). */
type FusedActivation = 'relu' | 'linear';

function fusedActivation(attrs: Record<string, unknown>): FusedActivation {
  const activation = attrs['activation'];
  if (activation !== 'relu' && activation !== 'linear') throw new Error(`${DENSE_BIAS_ACTIVATION}: activation must be 'relu' or 'linear', got ${String(activation)}.`);
  return activation;
}

/**
 * Creates the forward kernel: inputs `x` `[batch, in]`, `kernel` `[in, out]`, `bias` `[out]`, attr `activation`
 * (`'relu'` or `'linear'`); output x·kernel + bias `[batch, out]`, through max(·, 0) for relu, on fitstream's own
 * matMul routes (the bias and relu applied to C) while `ownRoutes()` says they are installed (the `matMulTranspose`
 * group), or where none takes the product by the `_FusedMatMul` kernel registered when it runs (with the operands as
 * `[1, batch, in]`·`[1, in, out]`, the rank tfjs' own `fused.matMul` hands it).
 */
export function createDenseBiasActivationKernel(tf: Tf, table: KernelTable, ownRoutes: () => boolean): KernelFunc {
  return toKernelFunc((args) => {
    const { inputs, backend } = args;
    const x = requireInput(inputs, 'x', DENSE_BIAS_ACTIVATION);
    const kernel = requireInput(inputs, 'kernel', DENSE_BIAS_ACTIVATION);
    const bias = requireInput(inputs, 'bias', DENSE_BIAS_ACTIVATION);
    const attrs = { transposeA: false, transposeB: false, activation: fusedActivation(args.attrs), leakyreluAlpha: 0 };
    const own = ownRoutes() ? ownMatMul(backend, { a: x, b: kernel, bias }, attrs, true) : undefined;
    if (own !== undefined) return own;
    const fused = tf.getKernel('_FusedMatMul', 'wasm');
    if (fused === undefined) throw new Error(`${DENSE_BIAS_ACTIVATION}: no _FusedMatMul kernel is registered for wasm.`);
    return withKernelScope(table, backend, (scope) => {
      const a = scope.reshape(x, [1, ...x.shape]);
      const b = scope.reshape(kernel, [1, ...kernel.shape]);
      const y = scope.adopt(single(fused.kernelFunc({ inputs: { a, b, bias }, backend, attrs }), DENSE_BIAS_ACTIVATION));
      return scope.reshape(y, [dim(x.shape, 0), dim(kernel.shape, 1)]);
    });
  });
}

let gradientRegistered = false;

/** Registers the kernel's gradient (once per process: tfjs' gradient registry has no removal). */
export function registerDenseBiasActivationGradient(tf: Tf): void {
  if (gradientRegistered) return;
  tf.registerGradient({
    kernelName: DENSE_BIAS_ACTIVATION,
    inputsToSave: ['x', 'kernel'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, kernel, y] = saved as [Tensor, Tensor, Tensor];
      // Computed once, before the closures: the tape calls each of them in a scope of its own.
      const [dz, db] = denseBiasGradients(tf, dy as Tensor, y, fusedActivation(attrs));
      return {
        x: () => tf.matMul(dz, kernel, false, true),
        kernel: () => tf.matMul(x, dz, true, false),
        bias: () => db,
      };
    },
  });
  gradientRegistered = true;
}

/** dz and db: one relu-and-bias pass for relu, one bias-gradient pass for linear (dz = dy) where registered. */
function denseBiasGradients(tf: Tf, dy: Tensor, y: Tensor, activation: FusedActivation): [Tensor, Tensor] {
  if (activation === 'linear' && tf.getKernel(BIAS_GRAD, tf.getBackend()) !== undefined) return [dy, tf.engine().runKernel(BIAS_GRAD, { dy }, {}) as Tensor];
  return reluAndBiasGradients(tf, dy, y, activation === 'relu');
}

/** The parts of tfjs-layers' `Dense` read here. */
interface DenseLayerLike {
  readonly activation: { getClassName(): string; apply(x: Tensor): Tensor } | null;
  readonly kernel: { read(): Tensor };
  readonly bias: { read(): Tensor } | null;
}

const patch = new LayerCallPatch();

/** Wraps `Dense.prototype.call` (idempotent); see the module comment. */
export function patchDenseLayer(tf: Tf): void {
  patch.wrapSingleInput<DenseLayerLike>(tf, 'Dense', DENSE_BIAS_ACTIVATION, (layer, x) => {
    const { kernel, bias, activation } = layer;
    // Without a tape tfjs fuses bias and activation itself (_FusedMatMul).
    if (tf.engine().state.gradientDepth === 0 || x.rank !== 2 || bias == null) return undefined;
    const name = activation?.getClassName().toLowerCase() ?? 'linear';
    const fused: FusedActivation = name === 'relu' ? 'relu' : 'linear';
    return tf.tidy(() => {
      const y = tf.engine().runKernel(DENSE_BIAS_ACTIVATION, { x, kernel: kernel.read(), bias: bias.read() }, { activation: fused }) as Tensor;
      return name === 'relu' || name === 'linear' || activation == null ? y : activation.apply(y);
    });
  });
}

/** Puts the layer class's own `call` back exactly (called by `uninstallWasmKernels`). */
export function restoreDenseLayer(): void {
  patch.restore();
}
