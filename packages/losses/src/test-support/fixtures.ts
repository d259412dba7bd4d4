import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';

/** A tensor's values as a plain array; the tensor is disposed. */
export function values(t: tf.Tensor): number[] {
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** Expects `actual` to equal `expected` element by element within `tolerance` (float32 arithmetic). */
export function expectClose(actual: readonly number[], expected: readonly number[], tolerance = 1e-6): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!), `element ${i}: ${v} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance));
}

/** Runs `fn` inside `tf.tidy` and returns the values of the tensor it returns: no tensor outlives the call. */
export function tidyValues(fn: () => tf.Tensor): number[] {
  return values(tf.tidy(fn));
}

/** The mean of `w·ℓ` over the batch: Keras' default `sum_over_batch_size` reduction of per-sample losses. */
export function kerasWeightedMean(perSample: readonly number[], weights: readonly number[]): number {
  return perSample.reduce((s, v, i) => s + v * weights[i]!, 0) / perSample.length;
}

/** The error `fn` throws; fails the test when it returns. */
export function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}
