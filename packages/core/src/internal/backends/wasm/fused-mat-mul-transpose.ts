/**
 * `_FusedMatMul` replacement that never hands a transposed operand to tfjs-backend-wasm (see
 * `batch-mat-mul-transpose.ts` for why). tfjs fuses matMul + bias + activation in the forward pass of dense layers
 * and LSTM cells; the fused kernel has the same slow transposed path as `BatchMatMul`.
 */
import type { KernelFunc } from '@tensorflow/tfjs';
import { createTransposingMatMul } from './batch-mat-mul-transpose.js';
import type { KernelTable } from './wasm-kernel-scope.js';

/**
 * Creates the `_FusedMatMul` kernel function; bias, activation, PReLU weights and leakyrelu alpha are passed through
 * to the original fused kernel unchanged.
 * @param original the tfjs-backend-wasm kernel, called with `transposeA = transposeB = false`.
 */
export function createFusedMatMulKernel(table: KernelTable, original: KernelFunc): KernelFunc {
  return createTransposingMatMul('_FusedMatMul', table, original, ['bias', 'preluActivationWeights']);
}
