import type * as tf from '@tensorflow/tfjs';
import { createLazyValues, hostLazyValues, isMetricsRead, readMetricsAsync, type LazyValues } from '@fitstream/core';

/**
 * The numbers of a regulariser report: core's lazy values. Values computed on the device stay there until someone
 * reads one (the first read fetches all of them and caches them); nobody reading means no device sync. Device values
 * live until the plugin's next report. `JSON.stringify` never forces a read: it writes the values when they were read,
 * and `null` otherwise (use `report: { read: 'eager' }` to log every report).
 */
export type ReportValues<K extends string = string> = LazyValues<K>;

/** Report values known on the host (no device read ever). */
export function hostValues<K extends string>(values: Readonly<Record<K, number>>): ReportValues<K> {
  return hostLazyValues(values);
}

/** Report values over a 1-D device tensor in `names` order; the caller owns `tensor` and calls `release` first. */
export function deviceValues<K extends string>(names: readonly K[], tensor: tf.Tensor1D, describe: string): { values: ReportValues<K>; release: (settle?: boolean) => void } {
  return createLazyValues(names, tensor, describe, "at the plugin's next report");
}

/** Whether a report's values were already read back from the device (always `true` for host values). */
export function isReportRead(values: ReportValues): boolean {
  return isMetricsRead(values);
}

/**
 * Reads a report's values without blocking the thread (GPU backends), as plain numbers.
 *
 * @example
 * ```ts
 * trainer.events$.pipe(ofType('regulariser:report')).subscribe(async (e) => console.log(e.name, await readReportAsync(e.values)));
 * ```
 */
export function readReportAsync<V extends ReportValues>(values: V): Promise<V> {
  return readMetricsAsync(values);
}
