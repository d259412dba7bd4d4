import { FitstreamInputError } from '@fitstream/core';

/** Checks an integer ≥ `min`. */
export function checkInteger(value: unknown, argument: string, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new FitstreamInputError(argument, `must be an integer ≥ ${min}, got ${String(value)}.`);
  }
}

/** Checks a non-empty array of finite numbers. */
export function checkSeries(values: ArrayLike<number>, argument: string, minLength = 1): void {
  if (values == null || typeof values.length !== 'number') throw new FitstreamInputError(argument, 'must be an array of numbers.');
  if (values.length < minLength) throw new FitstreamInputError(argument, `needs at least ${minLength} values, got ${values.length}.`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new FitstreamInputError(argument, `value ${i} is ${String(values[i])}; pass finite numbers (impute or drop gaps first).`);
  }
}

/** Checks two series of equal, non-zero length. */
export function checkPair(actual: ArrayLike<number>, predicted: ArrayLike<number>, fn: string): void {
  checkSeries(actual, `${fn}: actual`);
  checkSeries(predicted, `${fn}: predicted`);
  if (actual.length !== predicted.length) {
    throw new FitstreamInputError(`${fn}: predicted`, `has ${predicted.length} values but actual has ${actual.length}; pass one prediction per actual value.`);
  }
}
