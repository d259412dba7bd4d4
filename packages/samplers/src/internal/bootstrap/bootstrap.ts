import { FitstreamInputError } from '@fitstream/core';
import { approximateMode } from '../util/apportion.js';
import { encodeLabels, type Label } from '../util/labels.js';
import { checkSampleCount } from '../util/sizes.js';
import { checkSeed, streamOf } from '../util/streams.js';

/** Options of {@link bootstrap}. */
export interface BootstrapOptions {
  /** Draws (default `n`). Without replacement it must be ≤ `n`. */
  readonly nSamples?: number;
  /** Draw with replacement (default `true`); `false` takes a seeded subsample. */
  readonly replace?: boolean;
  /** Class labels: per-class draws proportional to class sizes (`_approximate_mode`), within each class. */
  readonly stratify?: ArrayLike<Label>;
  readonly seed?: number | string;
  /** Which bootstrap round (the `repeat` coordinate of the stream, default 0): rounds are independent draws. */
  readonly round?: number;
}

/** One bootstrap draw. */
export interface BootstrapSample {
  /** The drawn indices, with repeats, in draw order. */
  readonly inBag: Int32Array;
  /** Indices never drawn (out of bag), ascending. */
  readonly oob: Int32Array;
  /** How many times each of the `n` samples was drawn: usable as sample weights. */
  readonly multiplicity: Int32Array;
}

/**
 * One bootstrap draw (scikit-learn `resample`) with its out-of-bag indices and in-bag multiplicities. The expected OOB
 * fraction is `(1 − 1/n)^n → e^{-1} ≈ 0.368`. Round `r` of seed `s` is the same draw in any process.
 *
 * @example
 * ```ts
 * const { inBag, oob, multiplicity } = bootstrap(1000, { seed: 1, round: 0 });
 * // train on inBag (or on all rows weighted by multiplicity), score on oob
 * ```
 */
export function bootstrap(n: number, options: BootstrapOptions = {}): BootstrapSample {
  checkSampleCount(n, 'n');
  const { replace = true, stratify, seed = 0, round = 0 } = options;
  checkSeed(seed, 'options.seed');
  const nSamples = options.nSamples ?? n;
  if (!Number.isInteger(nSamples) || nSamples < 1) throw new FitstreamInputError('options.nSamples', `must be an integer ≥ 1, got ${String(nSamples)}.`);
  if (!replace && nSamples > n) {
    throw new FitstreamInputError('options.nSamples', `is ${nSamples} but there are only ${n} samples to draw without replacement; lower nSamples or set replace: true.`);
  }
  if (!Number.isSafeInteger(round) || round < 0) throw new FitstreamInputError('options.round', `must be an integer ≥ 0, got ${String(round)}.`);
  const random = streamOf(seed, 'bootstrap', round);
  let inBag: Int32Array;
  if (stratify !== undefined) {
    if (stratify.length !== n) throw new FitstreamInputError('options.stratify', `has ${stratify.length} labels for ${n} samples; pass one label per sample.`);
    const { counts, members } = encodeLabels(stratify, 'options.stratify');
    const alloc = approximateMode(counts, nSamples, random);
    const out: number[] = [];
    members.forEach((m, k) => {
      const stream = random.derive('class', k);
      if (replace) for (let j = 0; j < alloc[k]!; j++) out.push(m[stream.int(m.length)]!);
      else stream.permutation(m.length).subarray(0, alloc[k]!).forEach((p) => out.push(m[p]!));
    });
    inBag = random.shuffleInPlace(Int32Array.from(out));
  } else if (replace) {
    inBag = new Int32Array(nSamples);
    for (let j = 0; j < nSamples; j++) inBag[j] = random.int(n);
  } else {
    inBag = random.permutation(n).slice(0, nSamples);
  }
  const multiplicity = new Int32Array(n);
  for (const i of inBag) multiplicity[i]! += 1;
  const oob: number[] = [];
  multiplicity.forEach((m, i) => m === 0 && oob.push(i));
  return { inBag, oob: Int32Array.from(oob), multiplicity };
}
