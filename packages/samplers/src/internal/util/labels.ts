import { FitstreamInputError } from '@fitstream/core';

/** A class label: a number (class index) or a string. */
export type Label = number | string;

/** Labels encoded as class codes `0 … k-1`, with each class's members. */
export interface EncodedLabels {
  /** `codes[i]` is the class code of sample `i`. */
  readonly codes: Int32Array;
  /** The class behind each code. */
  readonly classes: readonly Label[];
  /** Samples per class code. */
  readonly counts: readonly number[];
  /** Member indices per class code, ascending. */
  readonly members: readonly Int32Array[];
}

/**
 * Encodes labels as class codes. `'sorted'` numbers classes as `np.unique` does (numbers ascending, strings by code
 * unit); `'first-appearance'` numbers them in order of first appearance (scikit-learn's `StratifiedKFold`).
 */
export function encodeLabels(y: ArrayLike<Label>, argument: string, order: 'sorted' | 'first-appearance' = 'sorted'): EncodedLabels {
  if (y == null || typeof y.length !== 'number') throw new FitstreamInputError(argument, 'must be an array of class labels (numbers or strings), one per sample.');
  const seen = new Map<Label, number>();
  const firsts: Label[] = [];
  let kind: 'number' | 'string' | undefined;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    const t = typeof v;
    if ((t !== 'number' && t !== 'string') || (t === 'number' && !Number.isFinite(v))) {
      throw new FitstreamInputError(`${argument}[${i}]`, `is ${String(v)}; class labels must be finite numbers or strings.`);
    }
    if (kind && kind !== t) throw new FitstreamInputError(argument, 'mixes numbers and strings; use one type of class label.');
    kind = t as 'number' | 'string';
    if (!seen.has(v!)) {
      seen.set(v!, 0);
      firsts.push(v!);
    }
  }
  const classes = order === 'sorted' ? [...firsts].sort((a, b) => (typeof a === 'number' ? a - (b as number) : a < b ? -1 : a > b ? 1 : 0)) : firsts;
  classes.forEach((c, k) => seen.set(c, k));
  const codes = new Int32Array(y.length);
  const counts = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < y.length; i++) {
    const k = seen.get(y[i]!)!;
    codes[i] = k;
    counts[k]! += 1;
  }
  const members = counts.map((c) => new Int32Array(c));
  const fill = new Array<number>(classes.length).fill(0);
  for (let i = 0; i < codes.length; i++) {
    const k = codes[i]!;
    members[k]![fill[k]!++] = i;
  }
  return { codes, classes, counts, members };
}
