// The event log's format without the file system: events as JSON records, and a log's text parsed back into events.
// Everything here runs in a browser as well as in Node (the logger that writes files and the streaming reader,
// jsonl-logger.ts, are Node only).
import { isMetricsRead, type TrainerEvent, type TrainerEventType } from '@fitstream/core';
import { parseEvent } from './json-lines.js';

/** The first line of every event log. */
export const EVENT_LOG_FORMAT = 'fitstream-events';

type AnyEvent = TrainerEvent & { readonly metrics?: unknown };

/**
 * The JSON form of an event. Lazy batch metrics are included only when already read (`isMetricsRead`), so logging never
 * forces a device sync; a `fit:end` error is plain data already (`serializeError`). Works in a browser: keep a run's
 * events as records there (jsonlLogger, which writes files, is Node only).
 *
 * @example
 * ```ts
 * const records: Record<string, unknown>[] = [];
 * trainer.events$.subscribe((e) => records.push(eventToRecord(e)));
 * ```
 */
export function eventToRecord(event: TrainerEvent): Record<string, unknown> {
  const e = event as AnyEvent;
  if (e.type === 'batch:end' || e.type === 'step:end') {
    const { metrics, ...rest } = e;
    return isMetricsRead(metrics) ? { ...rest, metrics: { ...metrics } } : rest;
  }
  return { ...e };
}

/** Options of `replay` and {@link parseEventLog}. */
export interface ReplayOptions {
  /** Keep only these event types. */
  readonly include?: readonly TrainerEventType[];
}

/**
 * Batch metrics that were not recorded: reading one explains why, instead of returning `undefined` where a number is
 * typed.
 */
function unrecordedMetrics(type: string, step: unknown): object {
  return new Proxy(Object.freeze({}), {
    get: (_t, key) => {
      if (typeof key === 'symbol' || key === 'toJSON' || key === 'then') return undefined;
      throw new Error(`replay: the metrics of this ${type} event (step ${String(step)}) were not recorded; log with jsonlLogger({ readBatchMetricsEvery: 1 }) to record every batch.`);
    },
  });
}

/** A parsed log line as an event (`undefined` for the header line); unrecorded batch metrics throw when read. */
export function toEvent(record: Record<string, unknown>): TrainerEvent | undefined {
  if (typeof record.type !== 'string') return undefined; // the header line
  if ((record.type === 'batch:end' || record.type === 'step:end') && record.metrics === undefined) {
    return { ...record, metrics: unrecordedMetrics(record.type, record.step) } as unknown as TrainerEvent;
  }
  if (record.metrics && typeof record.metrics === 'object') Object.freeze(record.metrics);
  return Object.freeze(record) as unknown as TrainerEvent;
}

/**
 * Parses the text of an event log into events (the header line and blank lines are skipped). Needs no file system:
 * in a browser, parse a log fetched or picked with a file input.
 *
 * @example
 * ```ts
 * const events = parseEventLog(await (await fetch('runs/a/events.jsonl')).text(), { include: ['epoch:end'] });
 * ```
 */
export function parseEventLog(text: string, options: ReplayOptions = {}): TrainerEvent[] {
  const include = options.include ? new Set<string>(options.include) : undefined;
  const events: TrainerEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const event = toEvent(parseLine(line, i + 1));
    if (event && (!include || include.has(event.type))) events.push(event);
  });
  return events;
}

/** One log line parsed, or an error naming its line number. */
export function parseLine(line: string, number: number): Record<string, unknown> {
  try {
    return parseEvent(line) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`replay: line ${number} is not JSON (${(error as Error).message}); a run killed mid-write leaves a partial last line — remove it.`);
  }
}

const TYPE_PREFIX = /^\{"type":"([^"\\]*)"/;

/** The event type a log line starts with, without parsing it (`undefined` when it does not start with one). */
export function typeOfLine(line: string): string | undefined {
  return TYPE_PREFIX.exec(line)?.[1];
}
