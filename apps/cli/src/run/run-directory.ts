import { createWriteStream, type WriteStream } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TrainerEvent } from '@fitstream/core';

/** `2025-11-23T15:22:33.123Z` → `20251123-152233`. */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * Creates `<out>/<recipe>-<timestamp>/`, adding `-2`, `-3`… when a run started in the same second already has the name.
 * Returns the absolute path.
 */
export async function createRunDirectory(out: string, recipe: string, now = new Date()): Promise<string> {
  const parent = resolve(out);
  await mkdir(parent, { recursive: true });
  const base = `${recipe}-${stamp(now)}`;
  for (let n = 1; ; n++) {
    const dir = join(parent, n === 1 ? base : `${base}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Writes a JSON file with a trailing newline. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * An event as one JSON line. Batch and step events carry lazy metrics that would force a device read per batch, so
 * they are logged without them; epoch, validation, fit, backend and checkpoint events are logged in full.
 */
export function eventToJson<M extends string>(event: TrainerEvent<M>): Record<string, unknown> {
  if (event.type === 'batch:end' || event.type === 'step:end') {
    // Destructuring takes the reference only: the lazy values are never read.
    const { metrics: _lazy, ...rest } = event;
    return rest;
  }
  if (event.type === 'fit:end' && event.error !== undefined) {
    const error = event.error instanceof Error ? { name: event.error.name, message: event.error.message } : { message: JSON.stringify(event.error) ?? 'unknown error' };
    return { ...event, error };
  }
  return { ...event };
}

/** `events.jsonl`: one line per trainer event, in order. */
export class EventLog {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'w' });
    this.stream.on('error', (error) => (this.failure ??= error));
  }

  // Generic in the metric names: TrainerEvent<'accuracy'> is not assignable to TrainerEvent<string>.
  write<M extends string>(event: TrainerEvent<M>): void {
    this.stream.write(`${JSON.stringify(eventToJson(event))}\n`);
  }

  /** Flushes and closes the file; rejects if any write failed. */
  close(): Promise<void> {
    return new Promise((resolvePromise, reject) => {
      this.stream.end(() => (this.failure ? reject(this.failure) : resolvePromise()));
    });
  }
}

/** `metrics.csv`: a header, then one row per epoch, appended as each epoch ends. */
export class MetricsCsv {
  private chain: Promise<void>;

  constructor(
    readonly path: string,
    private readonly columns: readonly string[],
  ) {
    this.chain = writeFile(path, `${['epoch', ...columns, 'learning_rate', 'duration_ms'].join(',')}\n`);
  }

  append(epoch: number, logs: Readonly<Record<string, number | undefined>>, learningRate: number, durationMs: number): Promise<void> {
    const cells = [String(epoch), ...this.columns.map((c) => (logs[c] === undefined ? '' : String(logs[c]))), String(learningRate), durationMs.toFixed(1)];
    this.chain = this.chain.then(() => appendFile(this.path, `${cells.join(',')}\n`));
    return this.chain;
  }

  flushed(): Promise<void> {
    return this.chain;
  }
}
