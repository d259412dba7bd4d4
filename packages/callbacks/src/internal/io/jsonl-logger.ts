import { Observable } from 'rxjs';
import { type Plugin, type TrainerEvent, type TrainerEventType } from '@fitstream/core';
import { BufferedFile } from './buffered-file.js';
import { EVENT_LOG_FORMAT, parseLine, toEvent, typeOfLine, type ReplayOptions } from './event-log.js';
import { stringifyEvent } from './json-lines.js';
import { createLogger } from './logger.js';
import { readLines } from './read-lines.js';
import { cutEventLog, happenedAfter, readResumePosition, type ResumePosition } from './resume-truncation.js';
import { inputError } from '../input-error.js';

/** Options of {@link jsonlLogger}. */
export interface JsonlLoggerOptions {
  /** The `.jsonl` file. */
  readonly path: string;
  /**
   * Batch and step events carry lazy metrics. By default they are logged only when some subscriber already read them
   * (no extra device sync). With `readBatchMetricsEvery: n` the logger reads them itself on every n-th optimizer step
   * (one device read per n steps).
   */
  readonly readBatchMetricsEvery?: number;
  /** Event types to log (default: all). */
  readonly include?: readonly TrainerEventType[];
  /**
   * `'auto'` (default): the first fit of this plugin replaces the file, later fits and resumed fits append. A resumed
   * fit first cuts the file back to its checkpoint (see {@link jsonlLogger}).
   */
  readonly append?: boolean | 'auto';
  /** Flush when this many characters are buffered, besides every epoch end, saved checkpoint or backup and fit end (default 1 MiB). */
  readonly flushAtChars?: number;
}

/** The plugin {@link jsonlLogger} returns. */
export interface JsonlLogger<M extends string = string> extends Plugin<M> {
  readonly path: string;
}

/** How long a write of the log may hold the loop: a resumed fit first reads and cuts the whole file. */
const FILE_TIMEOUT_MS = 10 * 60_000;

/**
 * Logs every trainer event (and every plugin event published with `control.emit`) as one JSON line, replayable with
 * {@link replay}. Lines are buffered and written at each epoch end, after every saved checkpoint or backup
 * (`checkpoint:saved`, `backupAndRestore:saved`: a kill loses at most the steps since the last backup) and at fit end (holding
 * the loop with `control.await`), and whenever the buffer passes `flushAtChars`. NaN and ±Infinity survive the round trip.
 * Built on {@link createLogger}: its lines are the records every logger made with it receives.
 *
 * A batch event is written when the next event arrives, so that metrics read by any subscriber of that batch (a
 * progress bar, a NaN guard) are included without a read of the logger's own.
 *
 * A fit resumed from a checkpoint continues the log as if the run had never stopped: the file is cut back to the
 * events before the checkpoint (what the interrupted fit logged after it, a torn last line of a kill), and the events
 * the resumed fit emits on its way back to that point — its `fit:start`, a mid-epoch resume's second `epoch:start` —
 * are not written. The finished file equals the uninterrupted run's except for the wall-clock fields `time` (every
 * event) and `durationMs` (`epoch:end`). A log that holds nothing before the checkpoint is appended to as it is.
 *
 * @example
 * ```ts
 * trainer.use(jsonlLogger({ path: 'runs/mnist/events.jsonl', readBatchMetricsEvery: 10 }));
 * ```
 */
export function jsonlLogger<M extends string = string>(options: JsonlLoggerOptions): JsonlLogger<M> {
  if (!options || typeof options.path !== 'string' || options.path.length === 0) throw inputError('jsonlLogger: options.path (a .jsonl file) is required.');
  const every = options.readBatchMetricsEvery ?? 0;
  if (!Number.isInteger(every) || every < 0) throw inputError(`jsonlLogger: readBatchMetricsEvery must be an integer ≥ 0, got ${String(every)}.`);
  const include = options.include ? new Set<string>(options.include) : undefined;
  const flushAt = options.flushAtChars ?? 1 << 20;
  const { path } = options;
  const header = `${JSON.stringify({ format: EVENT_LOG_FORMAT, version: 1 })}\n`;
  // The fit's file, from its fit:start to its close.
  let file: BufferedFile | undefined;
  // A resumed fit's records until the first one the uninterrupted run logged after the checkpoint are dropped (the log
  // was cut back to the checkpoint).
  let replaying: ResumePosition | undefined;

  const writeLine = (record: Record<string, unknown>): void | Promise<void> => {
    if (include && typeof record.type === 'string' && !include.has(record.type)) return;
    file!.write(`${stringifyEvent(record)}\n`);
    if (file!.buffered >= flushAt) return file!.flush();
  };

  /** Opens the file of a resumed fit: cut back to the checkpoint, or appended to as it is when it holds nothing before it. */
  const resume = (start: Record<string, unknown>, checkpoint: string): Promise<void> => {
    const cut = readResumePosition(checkpoint).then(async (at) => ({ at, cut: await cutEventLog(path, at) }));
    file = new BufferedFile(path, 'append', cut);
    return cut.then(({ at, cut }) => {
      if (cut.anchored) replaying = at;
      else {
        file!.write(header);
        return writeLine(start);
      }
    });
  };

  const logger = createLogger<M>({
    name: 'jsonl-logger',
    records: 'all',
    readBatchMetricsEvery: every,
    timeoutMs: FILE_TIMEOUT_MS,
    write: (record, { fit }) => {
      const r = record as Record<string, unknown> & { readonly type: string };
      if (record.type === 'fit:start') {
        replaying = undefined;
        const append = options.append === 'auto' || options.append === undefined ? fit > 0 || record.resumedFrom !== undefined : options.append;
        if (append && record.resumedFrom !== undefined) return resume(r, record.resumedFrom);
        file = new BufferedFile(path, append ? 'append' : 'truncate');
        file.write(header);
      } else if (replaying) {
        if (!happenedAfter(r.type, r, replaying)) return;
        replaying = undefined;
      }
      return writeLine(r);
    },
    flush: () => file?.flush(),
    close: () => {
      const closing = file;
      file = undefined;
      replaying = undefined;
      return closing?.close();
    },
  });
  return { ...logger, path };
}

/**
 * Turns an event log written by {@link jsonlLogger} back into an `Observable<TrainerEvent>`, streamed line by line, so
 * that policies can be re-run offline on recorded runs — e.g. tune early stopping's patience without retraining:
 *
 * @example
 * ```ts
 * replay('runs/a/events.jsonl').pipe(
 *   ofType('epoch:end'),
 *   map((e) => ({ epoch: e.epoch, value: e.metrics.val_loss })),
 *   earlyStoppingPolicy({ patience: 3 }),
 *   first((d) => d.action === 'stop'),
 * ).subscribe((d) => console.log(`would stop after epoch ${d.epoch}`));
 * ```
 *
 * Batch events whose metrics were not recorded carry metrics that throw a clear error when read. A partial last line
 * (a run killed mid-write) is skipped; a corrupt line elsewhere fails the stream naming its number.
 */
export function replay(path: string, options: ReplayOptions = {}): Observable<TrainerEvent> {
  const include = options.include ? new Set<string>(options.include) : undefined;
  return new Observable<TrainerEvent>((subscriber) => {
    let number = 0;
    let pendingError: Error | undefined;
    const stop = readLines(path, {
      line: (line) => {
        number += 1;
        if (subscriber.closed || !line.trim()) return;
        if (pendingError) {
          subscriber.error(pendingError);
          stop();
          return;
        }
        // Lines start with their type (jsonlLogger writes it first): a line of a type left out is skipped unparsed.
        const type = include ? typeOfLine(line) : undefined;
        if (type !== undefined && !include!.has(type)) return;
        let record: Record<string, unknown>;
        try {
          record = parseLine(line, number);
        } catch (error) {
          pendingError = error as Error; // fatal unless it was the last line
          return;
        }
        const event = toEvent(record);
        if (event && (!include || include.has(event.type))) subscriber.next(event);
      },
      end: () => subscriber.complete(),
      error: (error) => subscriber.error(new Error(`replay: cannot read ${path}: ${error.message}`)),
    });
    return stop;
  });
}
