import type * as tf from '@tensorflow/tfjs';
import type { TrainName } from './metric-names.js';

/**
 * Batch metrics that stay on the device until someone reads them. Reading any value (`m.loss`, `{ ...m }`) reads the
 * whole batch's metrics back once and caches them; nobody reading means no device sync at all. Use
 * {@link readMetricsAsync} to read without blocking on GPU backends, {@link isMetricsRead} to check.
 *
 * The device values live until the next batch ends. Read them inside your subscriber (or keep the latest event and read
 * it before the next batch, as a throttled progress bar does); reading an older batch throws a clear error.
 *
 * A plain record type on purpose: events of a trainer with typed metric names stay assignable to `TrainerEvent`.
 */
export type LazyMetrics<M extends string = string> = Readonly<Record<TrainName<M>, number>>;

interface LazyState {
  cached: Record<string, number> | undefined;
  tensor: tf.Tensor1D | undefined;
  readonly names: readonly string[];
  readonly describe: string;
}

const states = new WeakMap<object, LazyState>();

function toRecord(names: readonly string[], data: ArrayLike<number>): Record<string, number> {
  const record: Record<string, number> = {};
  names.forEach((n, i) => (record[n] = data[i]!));
  return Object.freeze(record);
}

function ensure(state: LazyState): Record<string, number> {
  if (state.cached) return state.cached;
  if (!state.tensor) {
    throw new Error(
      `The metrics of ${state.describe} were released when the next batch ended; read them inside your subscriber or keep the values you need.`,
    );
  }
  state.cached = toRecord(state.names, state.tensor.dataSync());
  return state.cached;
}

function stateOf(metrics: object): LazyState {
  const state = states.get(metrics);
  if (!state) throw new TypeError('Expected the lazy metrics of a batch:end or step:end event.');
  return state;
}

/** Reads lazy batch metrics without blocking the thread (GPU backends), as plain numbers. */
export async function readMetricsAsync<M extends string>(metrics: LazyMetrics<M>): Promise<LazyMetrics<M>> {
  const state = stateOf(metrics);
  if (!state.cached && state.tensor) {
    const data = await state.tensor.data();
    state.cached ??= toRecord(state.names, data as Float32Array);
  }
  return ensure(state) as LazyMetrics<M>;
}

/** Whether lazy batch metrics were already read back from the device. */
export function isMetricsRead(metrics: LazyMetrics): boolean {
  return stateOf(metrics).cached !== undefined;
}

/** Creates lazy metrics over a 1-D tensor of values in `names` order. The caller owns `values` and calls `release`. */
export function createLazyMetrics<M extends string>(
  names: readonly TrainName<M>[],
  values: tf.Tensor1D,
  describe: string,
): { metrics: LazyMetrics<M>; release: () => void } {
  const state: LazyState = { cached: undefined, tensor: values, names, describe };
  const target = {};
  for (const name of names) {
    Object.defineProperty(target, name, { enumerable: true, get: () => ensure(state)[name] });
  }
  Object.freeze(target);
  states.set(target, state);
  return {
    metrics: target as LazyMetrics<M>,
    release: () => {
      state.tensor = undefined;
    },
  };
}
