import { FitstreamInputError } from '@fitstream/core';

/** A finite number satisfying `ok`, or an error naming the argument and what it must be. */
export function assertNumber(value: unknown, argument: string, ok: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new FitstreamInputError(argument, `must be ${expected}, got ${String(value)}.`);
  }
  return value;
}

export const nonNegative = (value: unknown, argument: string): number => assertNumber(value, argument, (v) => v >= 0, 'a finite number ≥ 0');
export const positive = (value: unknown, argument: string): number => assertNumber(value, argument, (v) => v > 0, 'a finite number > 0');
export const probability = (value: unknown, argument: string): number =>
  assertNumber(value, argument, (v) => v >= 0 && v < 1, 'a number in [0, 1)');

export function nonNegativeInteger(value: unknown, argument: string): number {
  return assertNumber(value, argument, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
}
