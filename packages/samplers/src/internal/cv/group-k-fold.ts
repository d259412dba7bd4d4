import { FitstreamInputError } from '@fitstream/core';
import { encodeLabels } from '../util/labels.js';
import { checkSplits, complement, readInput, type Fold, type SplitInput, type Splitter } from './splitter.js';

/** Options of {@link groupKFold}. */
export interface GroupKFoldOptions {
  /** Number of folds, ≥ 2 and ≤ the number of distinct groups (default 5). */
  readonly nSplits?: number;
}

/**
 * K-fold with non-overlapping groups (scikit-learn `GroupKFold`, without shuffling): groups are taken largest first
 * and each goes to the fold with the fewest samples so far (the first such fold on ties), so no group is on both
 * sides and fold sizes are as even as the groups allow. Equal-sized groups are taken in descending sorted-key order
 * (numpy's `argsort(sizes)[::-1]` with a stable sort). Deterministic: there is no seed.
 *
 * @example
 * ```ts
 * for (const { train, test } of groupKFold({ nSplits: 3 }).split({ groups: patientIds })) { … }
 * ```
 */
export function groupKFold(options: GroupKFoldOptions = {}): Splitter {
  const { nSplits = 5 } = options;
  checkSplits(nSplits, 'options.nSplits');
  return {
    name: 'groupKFold',
    nSplits: () => nSplits,
    *split(input: SplitInput): Iterable<Fold> {
      const { groups, n } = readInput(input, { groups: true }, 'groupKFold');
      const { codes, counts, classes } = encodeLabels(groups!, 'input.groups');
      if (nSplits > classes.length) {
        throw new FitstreamInputError('options.nSplits', `is ${nSplits}, more than the ${classes.length} distinct groups; lower nSplits to at most ${classes.length} or pass finer groups.`);
      }
      const ascending = counts.map((_, g) => g).sort((a, b) => counts[a]! - counts[b]! || a - b);
      const order = ascending.reverse();
      const foldSize = new Array<number>(nSplits).fill(0);
      const groupFold = new Int32Array(classes.length);
      for (const g of order) {
        let lightest = 0;
        for (let f = 1; f < nSplits; f++) if (foldSize[f]! < foldSize[lightest]!) lightest = f;
        foldSize[lightest]! += counts[g]!;
        groupFold[g] = lightest;
      }
      for (let fold = 0; fold < nSplits; fold++) {
        const test: number[] = [];
        for (let i = 0; i < n; i++) if (groupFold[codes[i]!] === fold) test.push(i);
        yield { fold, repeat: 0, train: complement(n, test), test: Int32Array.from(test) };
      }
    },
  };
}
