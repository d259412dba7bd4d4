import type { ProgressStream } from '../../report/progress-stream.js';

// The terminal a progress bar writes to by default (Node). The browser build (../browser/terminal.ts) has none.

/** `process.stdout`: where `progressBar` writes unless given a stream. */
export function terminalStream(): ProgressStream {
  return process.stdout;
}

/** `process.env`: where `progressBar` looks for `CI`. */
export function environment(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
