// The logger plugin interface: one subscription to the trainer's stream that turns events into records (the event log's
// JSON form), holds the loop for the logger's promises, and names the logger in its errors. jsonlLogger, csvLogger and
// tensorBoard are built on it; a user's tracker is a `write` function. No file system here: it runs in a page too.
import type { EventOf, Plugin, TrainerControl, TrainerEvent, TrainerEventType } from '@fitstream/core';
import { eventToRecord } from './event-log.js';
import { inputError } from '../input-error.js';

/**
 * One record a logger receives: an event in the JSON form `eventToRecord` gives (what `jsonlLogger` writes as a line).
 * A discriminated union on `type`, so `record.type === 'epoch:end'` narrows to `record.metrics.val_loss`. Batch and step
 * records carry `metrics` only when someone read them (see {@link LoggerSpec.readBatchMetricsEvery}).
 */
export type LogRecord<M extends string = string> = {
  [K in TrainerEventType]: K extends 'batch:end' | 'step:end'
    ? EventOf<K, M> extends { readonly metrics: infer V }
      ? Omit<EventOf<K, M>, 'metrics'> & { readonly metrics?: V }
      : never
    : EventOf<K, M>;
}[TrainerEventType];

/**
 * Which records a logger receives. `'all'`: every event of the fit. `'step'`: all but `batch:start` and `batch:end`
 * (one `step:end` per optimizer update). `'epoch'`: all but those and `step:end` — fit, epoch and validation events and
 * plugin events (`checkpoint:saved`, `earlyStopping:stopped` …).
 */
export type LoggerRecords = 'epoch' | 'step' | 'all';

/** What a logger's calls get besides the record: which fit this is, and the trainer's control. */
export interface LoggerContext<M extends string = string> {
  /** 0 for the first fit this logger attached to, 1 for the next fit of the same trainer … */
  readonly fit: number;
  /** The checkpoint this fit resumed from (`fit:start`'s `resumedFrom`), else `undefined`. */
  readonly resumedFrom: string | undefined;
  /** The fit's control: `metricNames` (the columns to expect), `snapshotWeights()` (histograms) … */
  readonly control: TrainerControl<M>;
}

/** What {@link createLogger} turns into a plugin: a name and a `write`, optionally `flush` and `close`. */
export interface LoggerSpec<M extends string = string> {
  /** The plugin's name (unique on a trainer); errors of this logger name it. */
  readonly name: string;
  /** Which records {@link write} receives (default `'all'`). */
  readonly records?: LoggerRecords;
  /**
   * Batch and step records carry their lazy metrics only when some subscriber already read them (no extra device
   * sync). With `n > 0` the logger reads them itself on every n-th optimizer step — one device read per n steps — so
   * those `step:end` (and that step's `batch:end`) records carry `metrics`. Default 0.
   */
  readonly readBatchMetricsEvery?: number;
  /**
   * The longest any promise of this logger may hold the loop, in ms (default 60 000); one that takes longer fails the
   * fit naming the logger and the call.
   */
  readonly timeoutMs?: number;
  /**
   * Receives each record, in order. A returned promise holds the loop at its next boundary until it settles, and the
   * next call waits for it (calls never overlap). Called synchronously within the event when nothing is pending — so
   * `context.control.snapshotWeights()` in `write(epoch:end)` sees that epoch's weights.
   */
  write(record: LogRecord<M>, context: LoggerContext<M>): void | PromiseLike<unknown>;
  /**
   * Makes what was written durable: called before every checkpoint and backup of the fit is put in place (with the
   * records up to it written: a run killed right after it and resumed from it lost nothing logged before it), and after
   * the record of every `epoch:end`, `checkpoint:saved` and `backupAndRestore:saved` (their announcements).
   */
  flush?(context: LoggerContext<M>): void | PromiseLike<unknown>;
  /**
   * Ends the fit's log: called once per fit, a macrotask after `fit:end` (records plugins publish right after `fit:end`,
   * such as `earlyStopping:restored`, are written before it), also when the fit failed. Without `close`, `flush` runs.
   */
  close?(context: LoggerContext<M>): void | PromiseLike<unknown>;
}

/** The plugin {@link createLogger} returns. */
export interface Logger<M extends string = string> extends Plugin<M> {
  readonly name: string;
  /** Which records it receives. */
  readonly records: LoggerRecords;
}

/** After these records the logger's `flush` runs (a checkpoint or backup was written, or an epoch ended). */
const FLUSH_AFTER: ReadonlySet<string> = new Set(['epoch:end', 'checkpoint:saved', 'backupAndRestore:saved']);

const SKIPPED: Readonly<Record<LoggerRecords, ReadonlySet<string>>> = {
  all: new Set(),
  step: new Set(['batch:start', 'batch:end']),
  epoch: new Set(['batch:start', 'batch:end', 'step:end']),
};

const LEVELS: readonly LoggerRecords[] = ['epoch', 'step', 'all'];

// A macrotask, in Node and in a page (@fitstream/util's nextMacrotask does the same, but it is not a dependency here).
const nextMacrotask = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Builds a logger — a tracker, an experiment database, a metrics endpoint — from a `write(record)` function, as a plugin
 * for `trainer.use`. `jsonlLogger`, `csvLogger` and `tensorBoard` are built on it.
 *
 * Why this shape: a logger is a sink, so the contract is the sink's (write, flush, close — as Node streams and
 * loggers such as pino), and everything that is the same for every sink is done here once: choosing and ordering the
 * records, reading batch metrics without extra device syncs, holding the loop for promises (bounded), and errors.
 *
 * The contract:
 * - **Records.** `write` receives the records `jsonlLogger` writes — `eventToRecord(event)` of every event from the
 *   fit's `fit:start` on (filtered by `records`) — in the same order, and nothing else: events before `fit:start`
 *   (`backend:selected`) are not logged. A `batch:end` or `step:end` record is handed over when the next event arrives,
 *   so metrics any subscriber of that batch read (a progress bar, a NaN guard) are in it without a read of the logger's own.
 * - **Promises.** A promise returned by `write`, `flush` or `close` holds the training loop at its next boundary (core's
 *   `control.await`) until it settles, for at most `timeoutMs`; calls are made one at a time, in order.
 * - **Durability.** `flush` runs before every checkpoint of the fit is put in place (core's `control.beforeCheckpoint`;
 *   a `batch:end` or `step:end` record still held is written first, and the checkpoint waits for the flush), and after
 *   every `epoch:end`, `checkpoint:saved` and `backupAndRestore:saved` record; `close` a macrotask after `fit:end` (also
 *   after a failed fit). Each fit of a trainer starts over with `fit:start`
 *   (`context.fit` counts them).
 * - **Resume.** A fit resumed from a checkpoint sends `fit:start` with `resumedFrom` (also in `context.resumedFrom`),
 *   and then what the resumed fit emits: for a mid-epoch checkpoint, the epoch's `epoch:start` again. What the
 *   interrupted run logged after the checkpoint is the logger's to drop (`jsonlLogger` and `csvLogger` cut their files
 *   back; a tracker may overwrite by step).
 * - **Errors.** A `write`, `flush` or `close` that throws, rejects or times out fails the fit with an error naming the
 *   logger and the call (`logger "mlflow": write(epoch:end) failed: …`, the original as `cause`); the logger gets
 *   no more records in that fit, but still its `close`.
 *
 * Use one logger object per trainer. It works in a browser (nothing here touches files).
 *
 * @example
 * ```ts
 * // Every epoch's metrics to an HTTP endpoint; each POST holds the loop until it is answered (at most 10 s).
 * trainer.use(createLogger({
 *   name: 'metrics-endpoint',
 *   records: 'epoch',
 *   timeoutMs: 10_000,
 *   write: async (record) => {
 *     if (record.type !== 'epoch:end') return;
 *     const response = await fetch('http://127.0.0.1:5000/metrics', { method: 'POST', body: JSON.stringify(record) });
 *     if (!response.ok) throw new Error(`HTTP ${response.status}`);
 *   },
 * }));
 * ```
 */
export function createLogger<M extends string = string>(spec: LoggerSpec<M>): Logger<M> {
  if (!spec || typeof spec.name !== 'string' || spec.name.length === 0) throw inputError('createLogger: spec.name (a non-empty string, the plugin name) is required.');
  const { name } = spec;
  if (typeof spec.write !== 'function') throw inputError(`createLogger: spec.write (a function of each record) is required for logger "${name}".`);
  for (const hook of ['flush', 'close'] as const) {
    if (spec[hook] !== undefined && typeof spec[hook] !== 'function') throw inputError(`createLogger: spec.${hook} of logger "${name}" must be a function or left out.`);
  }
  const records = spec.records ?? 'all';
  if (!LEVELS.includes(records)) throw inputError(`createLogger: spec.records of logger "${name}" must be one of ${LEVELS.map((l) => `'${l}'`).join(', ')}, got ${JSON.stringify(records)}.`);
  const every = spec.readBatchMetricsEvery ?? 0;
  if (!Number.isInteger(every) || every < 0) throw inputError(`createLogger: spec.readBatchMetricsEvery of logger "${name}" must be an integer ≥ 0, got ${String(every)}.`);
  const timeoutMs = spec.timeoutMs ?? 60_000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw inputError(`createLogger: spec.timeoutMs of logger "${name}" must be a finite number of ms > 0 (every wait has a bound), got ${String(timeoutMs)}.`);
  const skipped = SKIPPED[records];
  let fits = 0;

  const failure = (what: string, error: unknown): Error => {
    const message = error instanceof Error ? error.message : String(error);
    return new Error(`logger "${name}": ${what} failed: ${message}`, { cause: error });
  };

  return {
    name,
    records,
    attach: (events$, control: TrainerControl<M>) => {
      let context: LoggerContext<M> | undefined; // set from fit:start until close
      let held: TrainerEvent | undefined;
      let tail: Promise<void> | undefined; // the last call still pending
      let failed = false;

      /** Settles like `promise`, or rejects once it took `timeoutMs`. */
      const bounded = (promise: PromiseLike<unknown>, what: string): Promise<unknown> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms (createLogger's timeoutMs)`)), timeoutMs);
        });
        return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
      };

      /** Runs one call of the logger: now when nothing is pending, else after the pending one; its promise holds the loop. */
      const call = (what: string, run: () => void | PromiseLike<unknown>): void => {
        if (failed) return;
        let result: PromiseLike<unknown>;
        if (tail === undefined) {
          let value: unknown;
          try {
            value = run();
          } catch (error) {
            failed = true;
            throw failure(what, error); // inside the subscriber: core fails the fit with it
          }
          if (!isThenable(value)) return;
          result = bounded(value, what);
        } else {
          result = tail.then(
            () => (failed ? undefined : bounded(Promise.resolve().then(run), what)),
            () => undefined, // an earlier call failed: the fit fails with that error
          );
        }
        const mine: Promise<void> = Promise.resolve(result).then(
          () => {
            if (tail === mine) tail = undefined;
          },
          (error: unknown) => {
            failed = true;
            if (tail === mine) tail = undefined;
            throw failure(what, error);
          },
        );
        tail = mine;
        control.await(mine);
      };

      const deliver = (event: TrainerEvent): void => {
        const record = eventToRecord(event) as LogRecord<M>;
        const ctx = context!;
        call(`write(${event.type})`, () => spec.write(record, ctx));
        if (FLUSH_AFTER.has(event.type) && spec.flush) call(`flush after ${event.type}`, () => spec.flush!(ctx));
      };

      // Before a checkpoint is put in place, everything logged up to it must be durable: a run resumed from it logs only
      // what comes after it, so a record still held or buffered when a kill lands right after the checkpoint's rename
      // (before its `checkpoint:saved`) would be missing for good. Every subscriber of the last event has run (the
      // checkpoint is taken at the loop's next boundary), so the held record is complete; the checkpoint waits for it.
      control.beforeCheckpoint(() => {
        if (!context || failed) return undefined;
        if (held) {
          const release = held;
          held = undefined;
          deliver(release);
        }
        if (spec.flush) call('flush before a checkpoint', () => spec.flush!(context!));
        return tail;
      });

      return events$.subscribe((event: TrainerEvent<M>) => {
        const e = event as TrainerEvent;
        if (e.type === 'fit:start') context = { fit: fits++, resumedFrom: e.resumedFrom, control };
        if (!context) return; // before fit:start (backend:selected), or after close
        if (held) {
          const release = held;
          held = undefined;
          deliver(release);
        }
        if (skipped.has(e.type)) return;
        if (e.type === 'step:end' && every > 0 && e.step % every === 0) void e.metrics.loss; // one read, cached for everyone
        if (e.type === 'batch:end' || e.type === 'step:end') held = e;
        else deliver(e);
        if (e.type === 'fit:end') {
          const ctx = context;
          // Plugins that change the model when the fit ends do it once every subscriber has seen fit:end, and say so
          // (`earlyStopping:restored`, `ema:finalized`): the log stays open for them until the next macrotask.
          control.await(
            nextMacrotask().then(async () => {
              if (context === ctx) context = undefined;
              // Once the pending calls settled, failed or not: close runs even after a failure, to release what the logger holds.
              await tail?.then(
                () => undefined,
                () => undefined,
              );
              if (!spec.close && !spec.flush) return;
              const what = spec.close ? 'close' : 'flush at fit end';
              try {
                // Called on the spec, so that a logger written as an object with methods keeps its `this`.
                await bounded(Promise.resolve().then(() => (spec.close ? spec.close(ctx) : spec.flush?.(ctx))), what);
              } catch (error) {
                throw failure(what, error);
              }
            }),
          );
        }
      });
    },
  };
}
