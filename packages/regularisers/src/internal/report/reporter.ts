import * as tf from '@tensorflow/tfjs';
import { ofType, type EventOf, type TrainerControl, type TrainerEvent } from '@fitstream/core';
import type { Observable, Subscription } from 'rxjs';
import { FitstreamInputError } from '@fitstream/core';
import { deviceValues, hostValues, type ReportValues } from './report-values.js';
import type { RegulariserReport } from './events.js';

/**
 * When a regulariser publishes its `regulariser:report` event. Reports cost no device sync unless read: values stay on
 * the device until a subscriber reads one (`'lazy'`, default); `'eager'` reads each report once when it is published
 * (one sync per report, so that loggers record the values).
 */
export interface ReportOptions {
  /** Report every n optimizer steps (default 1); `0` never reports. */
  readonly every?: number;
  readonly read?: 'lazy' | 'eager';
}

/** How device scalars recorded between two reports combine into the reported value. */
export type Aggregate = 'last' | 'sum' | 'max' | 'mean';

/** The report setting of a plugin: `false` turns reporting off. */
export type ReportSetting = ReportOptions | false | undefined;

export interface ResolvedReport {
  readonly every: number;
  readonly eager: boolean;
}

export function resolveReport(setting: ReportSetting, argument: string): ResolvedReport {
  if (setting === false) return { every: 0, eager: false };
  const every = setting?.every ?? 1;
  if (!Number.isInteger(every) || every < 0) throw new FitstreamInputError(`${argument}.every`, `must be an integer ≥ 0 (0 = never), got ${String(every)}.`);
  const read = setting?.read ?? 'lazy';
  if (read !== 'lazy' && read !== 'eager') throw new FitstreamInputError(`${argument}.read`, `must be 'lazy' or 'eager', got ${String(read)}.`);
  return { every, eager: read === 'eager' };
}

/**
 * Device-side accumulation of per-step scalars between two reports: no read, one small kept tensor per plugin, so
 * `tf.memory().numTensors` stays flat.
 */
export class DeviceAccumulator<K extends string> {
  private acc: tf.Tensor1D | undefined;
  private count = 0;
  private published: { tensor: tf.Tensor1D; release: (settle?: boolean) => void } | undefined;
  private readonly masks: { last: boolean[]; max: boolean[]; mean: boolean[] };

  constructor(
    readonly names: readonly K[],
    aggregates: readonly Aggregate[],
  ) {
    this.masks = {
      last: aggregates.map((a) => a === 'last'),
      max: aggregates.map((a) => a === 'max'),
      mean: aggregates.map((a) => a === 'mean'),
    };
  }

  /** Records one step's values (`names` order); callable inside `tf.tidy` or a gradient tape. */
  record(values: readonly tf.Tensor[]): void {
    const previous = this.acc;
    const next = tf.keep(
      tf.tidy(() => {
        const v = tf.stack(values.map((t) => tf.cast(tf.reshape(t, []), 'float32'))) as tf.Tensor1D;
        if (!previous) return v;
        const last = tf.tensor1d(this.masks.last, 'bool');
        const max = tf.tensor1d(this.masks.max, 'bool');
        return tf.where(last, v, tf.where(max, tf.maximum(previous, v), tf.add(previous, v))) as tf.Tensor1D;
      }),
    );
    previous?.dispose();
    this.acc = next;
    this.count += 1;
  }

  get pending(): number {
    return this.count;
  }

  /** The values recorded since the last take, as lazy report values; releases the previous take's tensor. */
  take(describe: string): ReportValues<K> | undefined {
    const acc = this.acc;
    if (!acc) return undefined;
    const count = this.count;
    const out = this.masks.mean.some(Boolean)
      ? tf.tidy(() => tf.where(tf.tensor1d(this.masks.mean, 'bool'), tf.div(acc, count), acc) as tf.Tensor1D)
      : acc;
    if (out !== acc) acc.dispose();
    this.acc = undefined;
    this.count = 0;
    this.releasePublished();
    const { values, release } = deviceValues(this.names, out, describe);
    this.published = { tensor: out, release };
    return values;
  }

  private releasePublished(settle = false): void {
    if (!this.published) return;
    this.published.release(settle);
    this.published.tensor.dispose();
    this.published = undefined;
  }

  /** Frees every tensor; `settle` first reads the last published report so it stays readable (one read per fit). */
  dispose(settle = false): void {
    this.acc?.dispose();
    this.acc = undefined;
    this.count = 0;
    this.releasePublished(settle);
  }
}

type StepEnd = EventOf<'step:end'>;
export type ReportPayload = RegulariserReport;
/** Distributes `Omit` over the report union, so each kind keeps its own fields. */
export type ReportBody<R> = R extends RegulariserReport ? Omit<R, 'name' | 'epoch' | 'step' | 'steps'> : never;

/**
 * Subscribes a plugin's reporting to `step:end`: every `every` steps, `body(e)` builds the report (return `undefined`
 * to skip) and it is published through `control.emit`.
 */
export function reportOnSteps(
  events$: Observable<TrainerEvent>,
  control: TrainerControl,
  options: { name: string; report: ResolvedReport; body: (e: StepEnd) => ReportBody<ReportPayload> | undefined; onStep?: (e: StepEnd) => void },
): Subscription {
  let steps = 0;
  return events$.pipe(ofType('step:end')).subscribe((e) => {
    options.onStep?.(e);
    steps += 1;
    if (options.report.every === 0 || e.step % options.report.every !== 0) return;
    const body = options.body(e);
    if (!body) return;
    if (options.report.eager) void { ...body.values };
    control.emit('regulariser:report', { ...body, name: options.name, epoch: e.epoch, step: e.step, steps } as ReportPayload);
    steps = 0;
  });
}

/**
 * {@link reportOnSteps} for a plugin whose values accumulate on the device: the fit starts with an empty
 * `accumulator`, each report takes what it holds and `body(values)` adds the report's own fields, and when the fit
 * ends the accumulator is freed (the last report read first, so that it stays readable).
 */
export function reportAccumulated<K extends string>(
  events$: Observable<TrainerEvent>,
  control: TrainerControl,
  accumulator: DeviceAccumulator<K>,
  options: { name: string; report: ResolvedReport; body: (values: ReportValues<K>) => ReportBody<ReportPayload>; onStep?: (e: StepEnd) => void },
): Subscription {
  accumulator.dispose();
  const subscription = reportOnSteps(events$, control, {
    ...options,
    body: () => {
      const values = accumulator.take(`the ${options.name} report`);
      return values && options.body(values);
    },
  });
  subscription.add(() => accumulator.dispose(true));
  return subscription;
}

export { hostValues };
