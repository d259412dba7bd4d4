/**
 * A problem with what the user passed: names the argument and the fix. Every fitstream package throws it for bad
 * options and data, so one `instanceof` check (or `error.argument`) tells input errors from bugs.
 *
 * @example
 * ```ts
 * if (!(rate > 0 && rate < 1)) throw new FitstreamInputError('options.rate', `must be in (0, 1), got ${rate}.`);
 * // FitstreamInputError: options.rate: must be in (0, 1), got 2.
 * ```
 */
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

/**
 * Throws a {@link FitstreamInputError} naming `argument` unless `value` is an integer ≥ 1; `fix` is appended to the
 * message.
 *
 * @example
 * ```ts
 * assertPositiveInteger(options.epochs, 'options.epochs', 'Train for at least one epoch.');
 * ```
 */
export function assertPositiveInteger(value: unknown, argument: string, fix = ''): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new FitstreamInputError(argument, `must be an integer ≥ 1, got ${describe(value)}.${fix ? ` ${fix}` : ''}`);
  }
}

/** A value as an error message shows it: a string quoted and called one (`"5"` is not `5`), anything else as `String`. */
function describe(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string; pass a number)`;
  if (Array.isArray(value)) return 'an array';
  return String(value);
}

/**
 * Throws a {@link FitstreamInputError} naming `argument` unless `value` is an integer ≥ 0.
 *
 * @example
 * ```ts
 * assertNonNegativeInteger(options.initialEpoch, 'options.initialEpoch');
 * ```
 */
export function assertNonNegativeInteger(value: unknown, argument: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new FitstreamInputError(argument, `must be an integer ≥ 0, got ${describe(value)}.`);
  }
}
