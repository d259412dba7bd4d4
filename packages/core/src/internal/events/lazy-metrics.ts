import type * as tf from '@tensorflow/tfjs';
import type { TrainName } from './metric-names.js';

/**
 * Named numbers that stay on the device until someone reads one: the first read (`v.loss`, `{ ...v }`) fetches all of
 * them at once and caches them; nobody reading means no device sync. `JSON.stringify` never forces a read — it writes
 * the values once read and `null` before. The device values live until their owner releases them (core: when the next
 * batch ends); a read after that throws a clear error.
 *
 * A plain record type on purpose: events of a trainer with typed names stay assignable to the generic event type.
 */
export type LazyValues<K extends string = string> = Readonly<Record<K, number>>;

/**
 * Batch metrics: lazy values of `'loss'` and the trainer's metric names. Read them inside your subscriber (or keep the
 * latest event and read it before the next batch ends, as a throttled progress bar does). Use
 * {@link readMetricsAsync} to read without blocking on GPU backends, {@link isMetricsRead} to check.
 */
export type LazyMetrics<M extends string = string> = LazyValues<TrainName<M>>;

interface LazyState {
  cached: Record<string, number> | undefined;
  tensor: tf.Tensor1D | undefined;
  readonly names: readonly string[];
  readonly released: string;
}

const states = new WeakMap<object, LazyState>();

function toRecord(names: readonly string[], data: ArrayLike<number>): Record<string, number> {
  const record: Record<string, number> = {};
  names.forEach((n, i) => (record[n] = data[i]!));
  return Object.freeze(record);
}

function ensure(state: LazyState): Record<string, number> {
  if (state.cached) return state.cached;
  if (!state.tensor) throw new Error(state.released);
  state.cached = toRecord(state.names, state.tensor.dataSync());
  return state.cached;
}

function build<K extends string>(state: LazyState): LazyValues<K> {
  const target = {};
  for (const name of state.names) Object.defineProperty(target, name, { enumerable: true, get: () => ensure(state)[name] });
  Object.defineProperty(target, 'toJSON', { enumerable: false, value: () => state.cached ?? null });
  Object.freeze(target);
  states.set(target, state);
  return target as LazyValues<K>;
}

function stateOf(values: object): LazyState {
  const state = states.get(values);
  if (!state) throw new TypeError('Expected lazy values (the metrics of a batch:end or step:end event, or a plugin report).');
  return state;
}

/**
 * Lazy values over a 1-D device tensor in `names` order. The caller owns `tensor`: it calls `release()` before
 * disposing it (`release(true)` reads the values first, so they stay readable afterwards).
 *
 * @example
 * ```ts
 * const { values, release } = createLazyValues(['norm', 'ratio'], tf.stack([norm, ratio]) as tf.Tensor1D, 'the clip report of step 7', 'at its next report');
 * ```
 */
export function createLazyValues<K extends string>(
  names: readonly K[],
  tensor: tf.Tensor1D,
  describe: string,
  releasedAt = 'when the next batch ended',
): { values: LazyValues<K>; release: (settle?: boolean) => void } {
  const state: LazyState = {
    cached: undefined,
    tensor,
    names,
    released: `The values of ${describe} were released ${releasedAt}; read them inside your subscriber or keep the numbers you need.`,
  };
  return {
    values: build<K>(state),
    release: (settle = false) => {
      if (settle && state.tensor) ensure(state);
      state.tensor = undefined;
    },
  };
}

/** Lazy values already on the host (never a device read), for reports that computed plain numbers. */
export function hostLazyValues<K extends string>(values: Readonly<Record<K, number>>): LazyValues<K> {
  return build<K>({ cached: Object.freeze({ ...values }), tensor: undefined, names: Object.keys(values), released: '' });
}

/** Reads lazy values without blocking the thread (GPU backends), as plain numbers. */
export async function readMetricsAsync<V extends LazyValues>(values: V): Promise<V> {
  const state = stateOf(values);
  if (!state.cached && state.tensor) {
    const data = await state.tensor.data();
    state.cached ??= toRecord(state.names, data as Float32Array);
  }
  return ensure(state) as V;
}

/** Whether lazy values were already read back from the device (always `true` for host values). */
export function isMetricsRead(values: LazyValues): boolean {
  return stateOf(values).cached !== undefined;
}
