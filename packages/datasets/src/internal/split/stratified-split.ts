import { FitstreamInputError, Random } from '@fitstream/util';

/** Options of {@link stratifiedSplit}. */
export interface StratifiedSplitOptions {
  /** Fraction of the samples in the test side, in (0, 1); the test side holds `ceil(testFraction · n)` samples. */
  readonly testFraction: number;
  /** Seeds the split: the same labels, fraction and seed always give the same indices. */
  readonly seed: number | string;
}

/** Sample indices of the two sides of a split, each in a seeded random order. */
export interface SplitIndices {
  readonly train: Int32Array;
  readonly test: Int32Array;
}

/**
 * Largest-remainder apportionment of `total` over `counts` (scikit-learn's `_approximate_mode`): each class gets the
 * floor of its exact share, and the remaining units go to the largest fractional parts, ties broken by `random`.
 */
function apportion(counts: readonly number[], total: number, random: Random): number[] {
  const n = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((c) => (c * total) / n);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = counts.map((_, i) => i);
  random.shuffleInPlace(order); // random tie order, then a stable sort by remainder
  order.sort((a, b) => exact[b]! - out[b]! - (exact[a]! - out[a]!));
  for (const i of order) {
    if (left === 0) break;
    if (out[i]! < counts[i]!) {
      out[i]! += 1;
      left -= 1;
    }
  }
  return out;
}

/**
 * Splits sample indices into train and test sides that keep each class's share, as scikit-learn's
 * `train_test_split(stratify=labels)` does: the test side holds `ceil(testFraction · n)` samples, allotted to classes in
 * proportion to their sizes by largest remainder (so each class is within one sample of its exact share), and every
 * class appears on both sides — for a class whose share is below one sample, that takes one sample from the class
 * with the largest surplus. Uses fitstream's seeded
 * {@link Random}, so a split is a pure function of `(labels, testFraction, seed)`.
 *
 * Throws when `testFraction` is not in (0, 1), when a label is not an integer, when a class has a single member (it
 * cannot be on both sides), or when a side would hold fewer samples than there are classes.
 *
 * @example
 * ```ts
 * const { x, y } = await loadIris();
 * const { train, test } = stratifiedSplit(await y.data(), { testFraction: 0.2, seed: 42 }); // 120 and 30 indices
 * const xTrain = tf.gather(x, train);
 * ```
 */
export function stratifiedSplit(labels: ArrayLike<number>, options: StratifiedSplitOptions): SplitIndices {
  if (labels == null || typeof labels.length !== 'number') {
    throw new FitstreamInputError('labels', 'must be an array (or typed array) of integer class labels.');
  }
  const { testFraction, seed } = options ?? ({} as Partial<StratifiedSplitOptions>);
  if (typeof testFraction !== 'number' || !(testFraction > 0 && testFraction < 1)) {
    throw new FitstreamInputError('options.testFraction', `must be a number in (0, 1), got ${String(testFraction)}; e.g. 0.2 for an 80/20 split.`);
  }
  if (!(typeof seed === 'string' || (typeof seed === 'number' && Number.isSafeInteger(seed)))) {
    throw new FitstreamInputError('options.seed', `must be a safe integer or a string, got ${String(seed)}.`);
  }
  const n = labels.length;
  if (n === 0) throw new FitstreamInputError('labels', 'is empty; there is nothing to split.');

  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label)) throw new FitstreamInputError(`labels[${i}]`, `is ${String(label)}; class labels must be integers.`);
    let list = members.get(label);
    if (!list) members.set(label, (list = []));
    list.push(i);
  }
  const classes = [...members.keys()].sort((a, b) => a - b);
  const counts = classes.map((c) => members.get(c)!.length);
  const single = classes.filter((_, k) => counts[k] === 1);
  if (single.length > 0) {
    throw new FitstreamInputError(
      'labels',
      `class${single.length > 1 ? 'es' : ''} ${single.join(', ')} ha${single.length > 1 ? 've' : 's'} a single member, which cannot be on both sides of a stratified split; drop ${single.length > 1 ? 'them' : 'it'} or gather more samples.`,
    );
  }
  const nTest = Math.ceil(testFraction * n);
  const nTrain = n - nTest;
  if (nTest < classes.length || nTrain < classes.length) {
    const side = nTest < classes.length ? `test side (${nTest})` : `train side (${nTrain})`;
    throw new FitstreamInputError(
      'options.testFraction',
      `${testFraction} of ${n} samples leaves the ${side} with fewer samples than the ${classes.length} classes; ${nTest < classes.length ? 'raise' : 'lower'} testFraction so that every class is on both sides.`,
    );
  }

  const random = Random.fromSeed(seed).derive('stratified-split');
  const testCounts = apportion(counts, nTest, random.derive('apportion'));
  // Every class on both sides: move a test slot to a class that got none (or from a class that got all) — only
  // needed for small classes, and always possible after the checks above.
  for (let k = 0; k < classes.length; k++) {
    while (testCounts[k]! < 1 || testCounts[k]! > counts[k]! - 1) {
      const lacking = testCounts[k]! < 1;
      const donor = lacking
        ? argBest(testCounts, (j) => j !== k && testCounts[j]! > 1, (j) => testCounts[j]! - (counts[j]! * nTest) / n)
        : argBest(testCounts, (j) => j !== k && testCounts[j]! < counts[j]! - 1, (j) => (counts[j]! * nTest) / n - testCounts[j]!);
      testCounts[donor]! += lacking ? -1 : 1;
      testCounts[k]! += lacking ? 1 : -1;
    }
  }

  const train: number[] = [];
  const test: number[] = [];
  classes.forEach((c, k) => {
    const list = members.get(c)!;
    random.derive('class', k).shuffleInPlace(list);
    test.push(...list.slice(0, testCounts[k]));
    train.push(...list.slice(testCounts[k]));
  });
  return {
    train: random.derive('order', 0).shuffleInPlace(Int32Array.from(train)),
    test: random.derive('order', 1).shuffleInPlace(Int32Array.from(test)),
  };
}

/** The index `j` with `eligible(j)` and the largest `score(j)` (the first on ties). */
function argBest(values: readonly number[], eligible: (j: number) => boolean, score: (j: number) => number): number {
  let best = -1;
  for (let j = 0; j < values.length; j++) {
    if (eligible(j) && (best < 0 || score(j) > score(best))) best = j;
  }
  if (best < 0) throw new Error('stratifiedSplit: no class can give up a sample; this is a bug, please report it.');
  return best;
}
