/** The output a progress bar writes to: `process.stdout`, or anything with `write` (and `isTTY`/`columns` for a bar). */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}
