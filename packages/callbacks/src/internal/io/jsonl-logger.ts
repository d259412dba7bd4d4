import { Observable } from 'rxjs';
import { type Plugin, type TrainerControl, type TrainerEvent, type TrainerEventType } from '@fitstream/core';
import { BufferedFile } from './buffered-file.js';
import { EVENT_LOG_FORMAT, eventToRecord, parseLine, toEvent, typeOfLine, type ReplayOptions } from './event-log.js';
import { stringifyEvent } from './json-lines.js';
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

/**
 * Events after which the buffer is written: an epoch end, and every saved checkpoint (core's `checkpoint:saved`, which
 * `modelCheckpoint` and `backupAndRestore` writes emit, and `backupAndRestore:saved`), so that a run killed and resumed from its
 * backup loses no logged step before that backup.
 */
const FLUSH_AFTER: ReadonlySet<string> = new Set(['epoch:end', 'checkpoint:saved', 'backupAndRestore:saved']);

/**
 * Logs every trainer event (and every plugin event published with `control.emit`) as one JSON line, replayable with
 * {@link replay}. Lines are buffered and written at each epoch end, after every saved checkpoint or backup
 * (`checkpoint:saved`, `backupAndRestore:saved`: a kill loses at most the steps since the last backup) and at fit end (holding
 * the loop with `control.await`), and whenever the buffer passes `flushAtChars`. NaN and ±Infinity survive the round trip.
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
  let fits = 0;
  return {
    name: 'jsonl-logger',
    path: options.path,
    attach: (events$, control: TrainerControl<M>) => {
      let file: BufferedFile | undefined;
      let held: TrainerEvent | undefined;
      // A resumed fit's events until the first one the uninterrupted run logged after the checkpoint: dropped once the
      // log is cut back (`at`), kept for writing while the cut is under way (it ends before the loop's first event).
      let replaying: { at: ResumePosition | undefined; early: TrainerEvent[] } | undefined;
      const fit = fits++;
      const write = (event: TrainerEvent) => {
        if (include && !include.has(event.type)) return;
        file!.write(`${stringifyEvent(eventToRecord(event))}\n`);
      };
      const header = `${JSON.stringify({ format: EVENT_LOG_FORMAT, version: 1 })}\n`;
      const resume = (path: string, checkpoint: string): Promise<void> => {
        const state: { at: ResumePosition | undefined; early: TrainerEvent[] } = { at: undefined, early: [] };
        replaying = state;
        const cut = readResumePosition(checkpoint).then(async (at) => ({ at, cut: await cutEventLog(path, at) }));
        file = new BufferedFile(path, 'append', cut);
        return cut.then(({ at, cut }) => {
          if (replaying !== state) return;
          if (cut.anchored) {
            state.at = at;
            return;
          }
          replaying = undefined;
          file?.write(header);
          for (const e of state.early) write(e);
        });
      };
      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        if (e.type === 'fit:start') {
          const append = options.append === 'auto' || options.append === undefined ? fit > 0 || e.resumedFrom !== undefined : options.append;
          if (append && e.resumedFrom !== undefined) control.await(resume(options.path, e.resumedFrom));
          else {
            file = new BufferedFile(options.path, append ? 'append' : 'truncate');
            file.write(header);
          }
        }
        if (!file) return; // backend:selected before fit:start
        if (replaying && !(replaying.at && happenedAfter(e.type, e, replaying.at))) {
          if (!replaying.at) replaying.early.push(e);
        } else {
          replaying = undefined;
          if (held) {
            write(held);
            held = undefined;
          }
          if (e.type === 'step:end' && every > 0 && e.step % every === 0) void e.metrics.loss; // one read, cached for everyone
          if (e.type === 'batch:end' || e.type === 'step:end') held = e;
          else write(e);
        }
        if (e.type === 'fit:end') {
          const closing = file;
          replaying = undefined;
          // Plugins that change the model when the fit ends do it once every subscriber has seen fit:end, and say so
          // (`earlyStopping:restored`, `ema:finalized`): the file stays open for them until the next macrotask.
          const after = new Promise<void>((resolve) => setImmediate(resolve));
          control.await(
            after.then(() => {
              if (file === closing) file = undefined;
              return closing.close();
            }),
          );
        } else if (FLUSH_AFTER.has(e.type) || file.buffered >= flushAt) control.await(file.flush());
      });
    },
  };
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
