import { FitstreamInputError, Random } from '@fitstream/util';

/**
 * The row order a loader's `shuffle` option asks for: a seeded permutation of `0 … n-1` drawn from the core PRNG (the
 * same seed gives the same order on every machine), or `undefined` to keep the package's order.
 */
export function shuffledRowOrder(n: number, shuffle: number | string | undefined): Int32Array | undefined {
  if (shuffle === undefined) return undefined;
  const valid = (typeof shuffle === 'string' && shuffle !== '') || (typeof shuffle === 'number' && Number.isSafeInteger(shuffle));
  if (!valid) {
    throw new FitstreamInputError(
      'options.shuffle',
      `must be a seed (a safe integer or a non-empty string), got ${JSON.stringify(shuffle)}; leave it out to keep the package's row order.`,
    );
  }
  return Random.fromSeed(shuffle).derive('dataset-rows').permutation(n);
}

/** Copies `values` (rows of `rowSize` numbers) with row `i` of the result taken from row `order[i]` of the input. */
export function permuteRows<A extends Float32Array | Int32Array>(values: A, rowSize: number, order: Int32Array | undefined): A {
  if (order === undefined) return values;
  const out = new (values.constructor as new (length: number) => A)(values.length);
  order.forEach((from, to) => out.set(values.subarray(from * rowSize, (from + 1) * rowSize), to * rowSize));
  return out;
}

/** The metadata note on row order: the package's grouping, or the seed that reordered it. */
export function rowOrderNote(grouping: string, shuffle: number | string | undefined): string {
  return shuffle === undefined
    ? `Rows are ordered by class (${grouping}): shuffle (options.shuffle), or split with stratifiedSplit, before training.`
    : `Rows are in a seeded random order (options.shuffle = ${JSON.stringify(shuffle)}); without it they are ordered by class (${grouping}).`;
}
