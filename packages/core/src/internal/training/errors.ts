/** A problem with what the user passed: names the argument and the fix. */
export class FitstreamInputError extends Error {
  override readonly name = 'FitstreamInputError';
  constructor(
    /** The argument at fault, e.g. `data.x`, `options.batchSize`. */
    readonly argument: string,
    message: string,
  ) {
    super(`${argument}: ${message}`);
  }
}

export function assertPositiveInteger(value: unknown, argument: string, fix = ''): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FitstreamInputError(argument, `must be an integer ≥ 1, got ${String(value)}.${fix ? ` ${fix}` : ''}`);
  }
}

export function assertNonNegativeInteger(value: unknown, argument: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new FitstreamInputError(argument, `must be an integer ≥ 0, got ${String(value)}.`);
  }
}
