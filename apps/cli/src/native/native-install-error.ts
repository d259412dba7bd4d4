/** The steps of `fitstream native install`, in order; an error names the one that failed. */
export type NativeInstallStep = 'arguments' | 'tensorflow' | 'toolchain' | 'package' | 'build' | 'verify';

/**
 * A `fitstream native install` step failed for a reason the user can fix: `message` says what is missing, `fix` the
 * command (or action) that fixes it.
 */
export class NativeInstallError extends Error {
  override readonly name = 'NativeInstallError';

  constructor(
    readonly step: NativeInstallStep,
    message: string,
    readonly fix: string,
  ) {
    super(`${message}\n  fix: ${fix}`);
  }
}
