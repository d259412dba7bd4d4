import type * as tf from '@tensorflow/tfjs';
import type { TrainName } from './metric-names.js';

/**
 * Batch metrics that stay on the device until someone reads them. Reading any value (`m.loss`, `m.read()`) reads the
 * whole batch's metrics back once and caches them; nobody reading means no device sync at all.
 *
 * The device values live until the next batch ends. Read them inside your subscriber (or keep the latest event and read
 * it before the next batch, as a throttled progress bar does); reading an older batch throws a clear error.
 */
export type LazyMetrics<M extends string = string> = Readonly<Record<TrainName<M>, number>> & {
  /** All values as plain numbers (one synchronous read-back, cached). */
  read(): Readonly<Record<TrainName<M>, number>>;
  /** All values without blocking the thread on GPU backends. */
  readAsync(): Promise<Readonly<Record<TrainName<M>, number>>>;
  /** Whether the values were already read back. */
  readonly isRead: boolean;
};

/** Creates lazy metrics over a 1-D tensor of values in `names` order. The caller owns `values` and calls `release`. */
export function createLazyMetrics<M extends string>(
  names: readonly TrainName<M>[],
  values: tf.Tensor1D,
  describe: string,
): { metrics: LazyMetrics<M>; release: () => void } {
  let cached: Record<string, number> | undefined;
  let tensor: tf.Tensor1D | undefined = values;
  const toRecord = (data: ArrayLike<number>): Record<string, number> => {
    const record: Record<string, number> = {};
    names.forEach((n, i) => (record[n] = data[i]!));
    return Object.freeze(record);
  };
  const ensure = (): Record<string, number> => {
    if (cached) return cached;
    if (!tensor) {
      throw new Error(
        `The metrics of ${describe} were released when the next batch ended; read them inside your subscriber or keep the values you need.`,
      );
    }
    cached = toRecord(tensor.dataSync());
    return cached;
  };
  const target = {
    read: () => ensure(),
    readAsync: async () => {
      if (cached) return cached;
      if (!tensor) return ensure();
      const data = await tensor.data();
      cached ??= toRecord(data);
      return cached;
    },
    get isRead() {
      return cached !== undefined;
    },
  };
  for (const name of names) {
    Object.defineProperty(target, name, { enumerable: true, get: () => ensure()[name] });
  }
  return {
    metrics: target as unknown as LazyMetrics<M>,
    release: () => {
      tensor = undefined;
    },
  };
}
