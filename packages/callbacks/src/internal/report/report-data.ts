import { defer, map, reduce, type OperatorFunction } from 'rxjs';
import { isMetricsRead, type TrainerEvent } from '@fitstream/core';
import { SeriesBuffer, type StepSeries, type StepSeriesSink } from './series-buffer.js';
import { inputError } from '../input-error.js';

/** One epoch of a report: its logs (train and `val_` values), learning rate and duration. */
export interface ReportEpoch {
  readonly epoch: number;
  readonly step: number;
  readonly learningRate: number;
  readonly durationMs: number;
  readonly logs: Readonly<Record<string, number | undefined>>;
}

/**
 * What a training report is drawn from; collect it live with `trainingReport`, from events with
 * {@link reportDataFromEvents}, or from a streamed log with {@link toReportData}. Per-step curves are columns of typed
 * arrays (a million steps take 16 MB, not an object per step).
 */
export interface ReportData {
  readonly title: string;
  /** The loss and metric names (without `val_`). */
  readonly names: readonly string[];
  /** Per loss or metric name, its batch values at the steps whose metrics were read. */
  readonly stepValues: Readonly<Record<string, StepSeries>>;
  /** The learning rate of every step. */
  readonly learningRate: StepSeries;
  readonly epochs: readonly ReportEpoch[];
  readonly startedAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: string | undefined;
  readonly stopReason: string | undefined;
  readonly resumedFrom: string | undefined;
}

/** Options of {@link toReportData}. */
export interface ReportDataOptions {
  /** The report's title (default `'Training report'`). */
  readonly title?: string;
  /**
   * A log may hold several fits (a backtest retrains once per fold into one log). `'all'` (default) collects them
   * together; `'last'` starts over at every `fit:start` that is not a resume, so the report shows the last fit.
   */
  readonly fits?: 'all' | 'last';
}

function isLazy(metrics: object): boolean {
  try {
    isMetricsRead(metrics as Parameters<typeof isMetricsRead>[0]);
    return true;
  } catch {
    return false;
  }
}

/** Accumulates report data event by event, in O(1) per event; {@link data} is a snapshot in O(epochs). */
export class ReportCollector {
  private names: string[];
  private stepValues = new Map<string, StepSeriesSink>();
  private learningRate: StepSeriesSink;
  private epochs: ReportEpoch[] = [];
  private startedAt: number | undefined;
  private endedAt: number | undefined;
  private endReason: string | undefined;
  private stopReason: string | undefined;
  private resumedFrom: string | undefined;
  private lazy: boolean | undefined;
  private lastValueStep = -Infinity;

  /**
   * @param names the names to draw (default: the keys of the first metrics seen)
   * @param readEvery live events carry lazy metrics: read them every n-th step (0: only when someone else did)
   * @param series what each per-step curve is kept in (default: every point; the live dashboard keeps a bounded M4 of them)
   */
  constructor(
    private readonly title: string,
    private readonly initialNames: readonly string[] = [],
    private readonly readEvery = 0,
    private readonly fits: 'all' | 'last' = 'all',
    private readonly series: () => StepSeriesSink = () => new SeriesBuffer(),
  ) {
    this.names = [...initialNames];
    this.learningRate = series();
  }

  add(event: TrainerEvent): void {
    switch (event.type) {
      case 'fit:start':
        if (this.fits === 'last' && event.resumedFrom === undefined && this.startedAt !== undefined) this.reset();
        this.startedAt ??= event.time;
        this.resumedFrom ??= event.resumedFrom;
        break;
      case 'step:end': {
        this.learningRate.push(event.step, event.learningRate);
        const values = this.read(event);
        if (values !== undefined) this.push(event.step, values);
        break;
      }
      case 'epoch:end': {
        const logs = { ...(event.metrics as unknown as Record<string, number | undefined>) };
        if (this.names.length === 0) this.names = Object.keys(logs).filter((k) => !k.startsWith('val_'));
        this.epochs.push({ epoch: event.epoch, step: event.step, learningRate: event.learningRate, durationMs: event.durationMs, logs });
        break;
      }
      case 'fit:end':
        this.endedAt = event.time;
        this.endReason = event.reason;
        this.stopReason = event.stopReason;
        break;
      default:
        break;
    }
  }

  /**
   * Batch values of a step read later (the live dashboard reads its samples without blocking, with `readMetricsAsync`):
   * added unless the values of this step or a later one are already in, so that the curves stay in step order.
   */
  addStepValues(step: number, values: Readonly<Record<string, number>>): void {
    if (step > this.lastValueStep) this.push(step, values);
  }

  private push(step: number, values: Readonly<Record<string, number>>): void {
    const keys = Object.keys(values);
    if (keys.length === 0) return;
    this.lastValueStep = step;
    if (this.names.length === 0) this.names = keys;
    for (const key of keys) {
      let series = this.stepValues.get(key);
      if (!series) this.stepValues.set(key, (series = this.series()));
      series.push(step, values[key]!);
    }
  }

  /** A step's batch values: plain records (replayed logs) as they are, lazy ones when read (see `readEvery`). */
  private read(event: TrainerEvent<string> & { type: 'step:end' }): Record<string, number> | undefined {
    // Live events carry lazy values, replayed ones plain records (or a proxy that throws, when the metrics were not
    // recorded): a stream is one or the other, so the first step decides (a throw per event would cost more than the
    // rest of reading a long log).
    this.lazy ??= isLazy(event.metrics);
    if (!this.lazy) {
      try {
        return { ...event.metrics };
      } catch {
        return undefined;
      }
    }
    // Already read by someone (free), or due for our own read (one device read per `readEvery` steps).
    if ((this.readEvery > 0 && event.step % this.readEvery === 0) || isMetricsRead(event.metrics)) return { ...event.metrics };
    return undefined;
  }

  private reset(): void {
    this.names = [...this.initialNames];
    this.stepValues = new Map();
    this.learningRate = this.series();
    this.epochs = [];
    this.lastValueStep = -Infinity;
    this.startedAt = this.endedAt = this.endReason = this.stopReason = this.resumedFrom = undefined;
  }

  data(): ReportData {
    return {
      title: this.title,
      names: [...this.names],
      stepValues: Object.fromEntries([...this.stepValues].map(([name, series]) => [name, series.view()])),
      learningRate: this.learningRate.view(),
      epochs: this.epochs.slice(),
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      endReason: this.endReason,
      stopReason: this.stopReason,
      resumedFrom: this.resumedFrom,
    };
  }
}

/**
 * Gathers report data from events held in memory (a live run's, or a short log's).
 *
 * @example
 * ```ts
 * const html = renderReportHtml(reportDataFromEvents(events, 'mnist'));
 * ```
 */
export function reportDataFromEvents(events: Iterable<TrainerEvent>, title = 'Training report'): ReportData {
  const collector = new ReportCollector(title);
  for (const e of events) collector.add(e);
  return collector.data();
}

/**
 * An operator that folds a stream of events into one {@link ReportData}, emitted when the stream completes. Each event
 * is added and dropped, so a log of any length is read in constant memory per event (the curves are typed columns).
 *
 * @example
 * ```ts
 * const data = await lastValueFrom(replay('runs/a/events.jsonl').pipe(toReportData({ title: 'run a', fits: 'last' })));
 * await writeFile('runs/a/report.html', renderReportHtml(data));
 * ```
 */
export function toReportData(options: ReportDataOptions = {}): OperatorFunction<TrainerEvent, ReportData> {
  const fits = options.fits ?? 'all';
  if (fits !== 'all' && fits !== 'last') throw inputError(`toReportData: options.fits must be 'all' or 'last', got ${String(fits as unknown)}.`);
  return (source) =>
    defer(() =>
      source.pipe(
        reduce((collector, event) => (collector.add(event), collector), new ReportCollector(options.title ?? 'Training report', [], 0, fits)),
        map((collector) => collector.data()),
      ),
    );
}
