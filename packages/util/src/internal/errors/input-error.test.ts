import { describe, expect, it } from 'vitest';
import { FitstreamInputError, assertNonNegativeInteger, assertPositiveInteger } from './input-error.js';

describe('FitstreamInputError', () => {
  it('names the argument in the message and as a property', () => {
    const error = new FitstreamInputError('options.rate', 'must be in (0, 1), got 2.');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('FitstreamInputError');
    expect(error.argument).toBe('options.rate');
    expect(error.message).toBe('options.rate: must be in (0, 1), got 2.');
  });

  it('asserts positive and non-negative integers, with the fix appended', () => {
    expect(() => assertPositiveInteger(3, 'a')).not.toThrow();
    expect(() => assertPositiveInteger(0, 'options.epochs', 'Train for at least one epoch.')).toThrow(
      new FitstreamInputError('options.epochs', 'must be an integer ≥ 1, got 0. Train for at least one epoch.'),
    );
    for (const bad of [1.5, '2', Number.NaN, undefined]) expect(() => assertPositiveInteger(bad, 'n')).toThrow(FitstreamInputError);
    expect(() => assertNonNegativeInteger(0, 'n')).not.toThrow();
    expect(() => assertNonNegativeInteger(-1, 'options.initialEpoch')).toThrow(/^options\.initialEpoch: must be an integer ≥ 0, got -1\.$/);
  });
});
