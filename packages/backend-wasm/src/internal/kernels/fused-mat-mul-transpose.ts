/**
 * `_FusedMatMul` replacement that never hands a transposed operand to tfjs-backend-wasm (see
 * `batch-mat-mul-transpose.ts` for why). tfjs fuses matMul + bias + activation in the forward pass of dense layers
 * and LSTM cells; the fused kernel has the same slow transposed path as `BatchMatMul`. It also works around a
 * batched-bias bug of the original kernel (see {@link batchSafeFusedMatMul}).
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { createTransposingMatMul, type PlainMatMul } from './batch-mat-mul-transpose.js';
import { dim, type KernelTable, single } from './wasm-kernel-scope.js';

/**
 * Creates the `_FusedMatMul` kernel function; bias, activation, PReLU weights and leakyrelu alpha are passed through
 * to the original fused kernel unchanged.
 * @param original the tfjs-backend-wasm kernel, called with `transposeA = transposeB = false`.
 */
export function createFusedMatMulKernel(table: KernelTable, original: KernelFunc): KernelFunc {
  return createTransposingMatMul(
    '_FusedMatMul',
    table,
    original,
    ['bias', 'preluActivationWeights'],
    batchSafeFusedMatMul(original),
  );
}

/**
 * tfjs-backend-wasm 4.22's `_FusedMatMul` adds the bias correctly only for a batch of one: for every later row it
 * adds `bias[N-1]` to all columns (measured: a [2,3,5]·[2,5,7] product with bias 1..7 gets +1..7 on rows 0 and 3, +7
 * everywhere else). tfjs-layers always calls it with batch 1 (rank-2 dense), but `tf.fused.matMul` on rank-3 input
 * does not. So for batch > 1 with a bias, run the product one batch at a time and concatenate.
 */
function batchSafeFusedMatMul(original: KernelFunc): PlainMatMul {
  return (scope, inputs, attrs) => {
    const { a, b, bias, preluActivationWeights: prelu } = inputs;
    if (a === undefined || b === undefined) {
      throw new Error('fitstream wasm kernel _FusedMatMul: missing input a or b');
    }
    const call = (callInputs: Record<string, TensorInfo>): TensorInfo =>
      scope.adopt(single(original({ inputs: callInputs, backend: scope.backend, attrs }), '_FusedMatMul'));
    const batch = a.shape.length === 3 && b.shape.length === 3 ? Math.max(dim(a.shape, 0), dim(b.shape, 0)) : 1;
    if (bias === undefined || batch === 1) {
      return call(inputs);
    }
    const [, m, k] = a.shape as [number, number, number];
    const n = dim(b.shape, 2);
    const parts: TensorInfo[] = [];
    for (let i = 0; i < batch; i++) {
      const part: Record<string, TensorInfo> = {
        a: scope.slice(a, [dim(a.shape, 0) === 1 ? 0 : i, 0, 0], [1, m, k]),
        b: scope.slice(b, [dim(b.shape, 0) === 1 ? 0 : i, 0, 0], [1, k, n]),
        bias,
      };
      if (prelu !== undefined) {
        // Weights with their own batch axis follow the batch; lower-rank weights broadcast over every batch.
        part['preluActivationWeights'] =
          prelu.shape.length === 3 && dim(prelu.shape, 0) > 1
            ? scope.slice(prelu, [i, 0, 0], [1, dim(prelu.shape, 1), dim(prelu.shape, 2)])
            : prelu;
      }
      parts.push(call(part));
    }
    return scope.concat(parts, 0);
  };
}
