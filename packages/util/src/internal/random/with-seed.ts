import { Random } from './random.js';

/**
 * Runs `fn` synchronously with `Math.random` drawn from a fitstream stream, then restores it.
 *
 * tfjs seeds every unseeded random op (initialisers, dropout, `randomNormal`) from `Math.random`, and a layer's own
 * `seed` argument would repeat the same dropout mask on every step. Scoping `Math.random` to a derived stream for the
 * duration of one synchronous call is the only way to make those draws reproducible without forking tfjs; it never
 * spans an `await`, so no other code in the process sees the replacement.
 *
 * @example
 * ```ts
 * const model = withSeed(42, () => buildModel()); // identical initial weights on every run
 * ```
 */
/* eslint-disable no-restricted-properties -- this is the one place that scopes Math.random to the core PRNG */
export function withSeed<T>(seed: number | string | Random, fn: () => T): T {
  const rng = seed instanceof Random ? seed : Random.fromSeed(seed);
  const original = Math.random;
  Math.random = () => rng.next();
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('withSeed(seed, fn): fn must be synchronous; an async fn would leak the seeded Math.random across await.');
    }
    return result;
  } finally {
    Math.random = original;
  }
}
