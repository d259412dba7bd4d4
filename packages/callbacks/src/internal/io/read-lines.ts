import { createReadStream } from 'node:fs';

/** What {@link readLines} calls. */
export interface LineHandlers {
  /** Each line, without its `\n` (or `\r\n`); the last one also when the file does not end with a newline. */
  readonly line: (text: string) => void;
  readonly end: () => void;
  readonly error: (error: Error) => void;
}

/**
 * Streams a text file line by line in 1 MiB chunks; returns a function that stops reading. node:readline does the same
 * at about half the speed (3.8 s against 1.8 s for the 3 M lines of a million-step event log), which is most of
 * the time `fitstream report` spends on such a log.
 */
export function readLines(path: string, on: LineHandlers): () => void {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }); // decodes UTF-8 across chunks
  let rest = '';
  let stopped = false;
  stream.on('data', (chunk: string | Buffer) => {
    const text = rest + String(chunk);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1 && !stopped; end = text.indexOf('\n', start)) {
      on.line(text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end));
      start = end + 1;
    }
    rest = text.slice(start);
  });
  stream.on('end', () => {
    if (!stopped && rest !== '') on.line(rest);
    if (!stopped) on.end();
  });
  stream.on('error', (error) => {
    if (!stopped) on.error(error);
  });
  return () => {
    stopped = true;
    stream.destroy();
  };
}
