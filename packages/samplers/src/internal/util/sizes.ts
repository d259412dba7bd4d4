import { FitstreamInputError } from '@fitstream/core';

/** A split size: a fraction of the samples in (0, 1), or a count (an integer ≥ 1). */
export type SplitSize = number;

/** Checks one size and says whether it is a fraction. */
export function checkSize(value: unknown, n: number, argument: string): 'fraction' | 'count' {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FitstreamInputError(argument, `must be a fraction in (0, 1) or a sample count (an integer ≥ 1), got ${String(value)}.`);
  }
  if (value < 1) return 'fraction';
  if (!Number.isInteger(value)) {
    throw new FitstreamInputError(argument, `is ${value}: a fraction must be below 1 (e.g. ${(value / 10).toFixed(2)}?) and a count must be an integer.`);
  }
  if (value >= n) throw new FitstreamInputError(argument, `is ${value} samples but there are only ${n}; a count must be in [1, ${n - 1}].`);
  return 'count';
}

/**
 * scikit-learn's `_validate_shuffle_split`: a fractional test size gives `ceil(test·n)`, a fractional train size
 * `floor(train·n)`, a missing one is the complement; `defaultTest` applies when both are missing.
 */
export function resolveTrainTest(
  n: number,
  testSize: SplitSize | undefined,
  trainSize: SplitSize | undefined,
  defaultTest: number,
  names: { readonly test: string; readonly train: string } = { test: 'options.testSize', train: 'options.trainSize' },
): { readonly nTrain: number; readonly nTest: number } {
  if (testSize === undefined && trainSize === undefined) testSize = defaultTest;
  const testKind = testSize === undefined ? undefined : checkSize(testSize, n, names.test);
  const trainKind = trainSize === undefined ? undefined : checkSize(trainSize, n, names.train);
  if (testKind === 'fraction' && trainKind === 'fraction' && testSize! + trainSize! > 1) {
    throw new FitstreamInputError(names.test, `and ${names.train} add up to ${testSize! + trainSize!}, more than 1; lower one of them so that they sum to at most 1.`);
  }
  let nTest = testSize === undefined ? undefined : testKind === 'fraction' ? Math.ceil(testSize * n) : testSize;
  let nTrain = trainSize === undefined ? undefined : trainKind === 'fraction' ? Math.floor(trainSize * n) : trainSize;
  nTrain ??= n - nTest!;
  nTest ??= n - nTrain;
  if (nTrain + nTest > n) {
    throw new FitstreamInputError(names.test, `gives ${nTest} test samples and ${names.train} ${nTrain} train samples: ${nTrain + nTest} in all, more than the ${n} samples; lower one of them.`);
  }
  if (nTrain <= 0) {
    throw new FitstreamInputError(names.train, `with n = ${n} and ${names.test} = ${String(testSize)} the train side would be empty; lower the test size or pass more samples.`);
  }
  if (nTest <= 0) {
    throw new FitstreamInputError(names.test, `with n = ${n} the test side would be empty; raise the test size or pass more samples.`);
  }
  return { nTrain, nTest };
}

/** Checks that `n` is a usable number of samples. */
export function checkSampleCount(n: unknown, argument: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new FitstreamInputError(argument, `must be the number of samples, an integer ≥ 0, got ${String(n)}.`);
  }
  if (n === 0) throw new FitstreamInputError(argument, 'is 0: there is nothing to split; pass at least one sample.');
}
