import { FitstreamInputError } from '@fitstream/core';
import type { Label } from '../util/labels.js';
import { checkSampleCount } from '../util/sizes.js';

/** What a splitter splits: a sample count, or labels and/or groups (one per sample). */
export type SplitInput = number | { readonly n?: number; readonly y?: ArrayLike<Label>; readonly groups?: ArrayLike<Label> };

/** One fold of a cross-validation: train and test sample indices. */
export interface Fold {
  /** Fold index within its repeat, `0 … nSplits-1` (for shuffle splits: the split index). */
  readonly fold: number;
  /** Repeat index (0 unless the splitter repeats). */
  readonly repeat: number;
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/**
 * A cross-validation splitter. `split` is deterministic: calling it twice with the same input gives the same folds,
 * in any process (every random stream is derived from `(seed, splitter, repeat)`).
 */
export interface Splitter {
  readonly name: string;
  /** The number of folds `split` yields (scikit-learn's `get_n_splits`). */
  nSplits(): number;
  split(input: SplitInput): Iterable<Fold>;
}

/** Normalises a split input, checking lengths agree. */
export function readInput(input: SplitInput, needs: { y?: boolean; groups?: boolean }, splitter: string): { n: number; y?: ArrayLike<Label>; groups?: ArrayLike<Label> } {
  const obj = typeof input === 'number' ? { n: input } : input;
  if (obj == null || typeof obj !== 'object') throw new FitstreamInputError('input', `${splitter}.split(input): pass a sample count or { y, groups }.`);
  const n = obj.n ?? obj.y?.length ?? obj.groups?.length;
  checkSampleCount(n, 'input.n');
  if (needs.y && obj.y === undefined) throw new FitstreamInputError('input.y', `${splitter} stratifies on class labels; pass split({ y: labels }).`);
  if (needs.groups && obj.groups === undefined) throw new FitstreamInputError('input.groups', `${splitter} keeps groups together; pass split({ groups }).`);
  for (const key of ['y', 'groups'] as const) {
    const v = obj[key];
    if (v !== undefined && v.length !== n) throw new FitstreamInputError(`input.${key}`, `has ${v.length} entries but there are ${n} samples; pass one per sample.`);
  }
  return { n, ...(obj.y !== undefined ? { y: obj.y } : {}), ...(obj.groups !== undefined ? { groups: obj.groups } : {}) };
}

/** The complement of `test` in `[0, n)`, ascending. */
export function complement(n: number, test: ArrayLike<number>): Int32Array {
  const mask = new Uint8Array(n);
  for (let i = 0; i < test.length; i++) mask[test[i]!] = 1;
  const out = new Int32Array(n - test.length);
  let j = 0;
  for (let i = 0; i < n; i++) if (!mask[i]) out[j++] = i;
  return out;
}

/** Checks `nSplits` (an integer ≥ 2). */
export function checkSplits(k: unknown, argument: string): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 2) {
    throw new FitstreamInputError(argument, `must be an integer ≥ 2 (at least one train/test split), got ${String(k)}.`);
  }
}
