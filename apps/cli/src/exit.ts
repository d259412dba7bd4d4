/**
 * Exit codes of `fitstream`: 0 success, 1 a failed run, 2 a usage or configuration error (unknown command, recipe,
 * flag value or config key), 130 stopped by SIGINT (Ctrl-C) and 143 by SIGTERM, after a checkpoint was saved.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130, terminated: 143 } as const;
