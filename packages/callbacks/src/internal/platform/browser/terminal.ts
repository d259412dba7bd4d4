import type { ProgressStream } from '../../report/progress-stream.js';
import { nodeOnly } from '../node-only.js';

// The browser build of the progress bar's terminal: a page has no process.stdout. A progress bar given a `stream`
// (anything with `write(text)`) still works.

/** No terminal in a browser: throws, naming what to use instead. */
export function terminalStream(): ProgressStream {
  throw nodeOnly('progressBar', "writes to the terminal (process.stdout) by default", "pass progressBar({ stream }) with anything that has write(text), or draw the run with liveDashboard({ element })");
}

/** No environment variables in a browser. */
export function environment(): Readonly<Record<string, string | undefined>> {
  return {};
}
