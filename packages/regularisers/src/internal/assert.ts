import { FitstreamInputError } from '@fitstream/core';

/** Checks that a plugin factory was given its options object; `example` is a minimal one for the message. */
export function requireOptions(options: unknown, factory: string, example: string): void {
  if (options == null || typeof options !== 'object') throw new FitstreamInputError(`${factory}(options)`, `options are required, e.g. ${example}.`);
}

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
