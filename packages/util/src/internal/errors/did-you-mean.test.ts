import { describe, expect, it } from 'vitest';
import { assertKnownOptions, didYouMean, editDistance } from './did-you-mean.js';
import { FitstreamInputError } from './input-error.js';

describe('editDistance', () => {
  it('counts insertions, deletions and substitutions, a swap of neighbours as one, ignoring case', () => {
    expect(editDistance('epochs', 'epochs')).toBe(0);
    expect(editDistance('Epochs', 'epochs')).toBe(0);
    expect(editDistance('epoch', 'epochs')).toBe(1);
    expect(editDistance('epochss', 'epochs')).toBe(1);
    expect(editDistance('epocks', 'epochs')).toBe(1);
    expect(editDistance('eopchs', 'epochs')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('is symmetric', () => {
    for (const [a, b] of [['batchSize', 'bachtSzie'], ['lr', 'learningRate'], ['species', 'specis']] as const) {
      expect(editDistance(a, b)).toBe(editDistance(b, a));
    }
  });
});

describe('didYouMean', () => {
  it('names the closest known name within max(2, ⌊length/3⌋) edits, or a case-only difference', () => {
    expect(didYouMean('specis', ['sepal', 'species'])).toBe('species');
    expect(didYouMean('SPECIES', ['sepal', 'species'])).toBe('species');
    expect(didYouMean('earlyStoping', ['earlyStopping', 'ema'])).toBe('earlyStopping');
    expect(didYouMean('xyz', ['species'])).toBeUndefined();
    expect(didYouMean('anything', [])).toBeUndefined();
  });
});

describe('assertKnownOptions', () => {
  it('passes known options and ignores undefined values', () => {
    expect(() => assertKnownOptions({ epochs: 3, unknown: undefined }, ['epochs'], 'options')).not.toThrow();
  });

  it('refuses an unknown option naming the argument, the closest name, the hint and every known name', () => {
    expect(() => assertKnownOptions({ eopchs: 3 }, ['epochs', 'batchSize'], 'options')).toThrow(
      new FitstreamInputError('options', '"eopchs" is not an option; did you mean "epochs"? Known options: batchSize, epochs.'),
    );
    expect(() => assertKnownOptions({ classWeight: {} }, ['epochs'], 'options', { classWeight: 'use classWeights()' })).toThrow(/"classWeight": use classWeights\(\)/);
  });
});
