import { FitstreamInputError, Random } from '@fitstream/core';

/** The package's prefix for random-stream purposes, so they never collide with another package's. */
export const PURPOSE = '@fitstream/samplers';

/**
 * The random stream for `(seed, purpose, …coordinates)`: a pure function of its arguments (epoch, fold, repeat…),
 * never of how many numbers were drawn before, so epoch 3 is the same whether or not epochs 0–2 ran.
 */
export function streamOf(seed: number | string, purpose: string, ...coordinates: number[]): Random {
  return Random.fromSeed(seed).derive(`${PURPOSE}/${purpose}`, ...coordinates);
}

/** Checks a seed (a safe integer or a string) for a clear error before `Random.fromSeed` throws a generic one. */
export function checkSeed(seed: unknown, argument: string): asserts seed is number | string | undefined {
  if (seed === undefined || typeof seed === 'string' || (typeof seed === 'number' && Number.isSafeInteger(seed))) return;
  throw new FitstreamInputError(argument, `a seed must be a safe integer or a string, got ${JSON.stringify(seed) ?? typeof seed}; pass e.g. 42.`);
}
