import { FitstreamInputError } from '@fitstream/core';

/**
 * The {@link FitstreamInputError} of a message written as `"<owner>: <problem and fix>"` — the factory or option at
 * fault, e.g. `"earlyStopping: patience must be …"` — with the message unchanged, so that every bad option of a
 * callback is one error class (`error.argument` names the owner).
 */
export function inputError(message: string): FitstreamInputError {
  const colon = message.indexOf(': ');
  return colon > 0 ? new FitstreamInputError(message.slice(0, colon), message.slice(colon + 2)) : new FitstreamInputError('options', message);
}
