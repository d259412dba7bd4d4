import type * as tf from '@tensorflow/tfjs';

/**
 * The numbers of a regulariser report. Values computed on the device stay there until someone reads one: the first
 * read (`r.values.norm`, `{ ...r.values }`) fetches all of that report's values at once and caches them; nobody
 * reading means no device sync. Device values live until the plugin's next report — read them in your subscriber, or
 * keep the latest event and read it before then (a throttled progress bar). `JSON.stringify` never forces a read: it
 * writes the values when they were read, and `null` otherwise (use `report: { read: 'eager' }` to log every report).
 */
export type ReportValues<K extends string = string> = Readonly<Record<K, number>>;

interface ReportState {
  cached: Record<string, number> | undefined;
  tensor: tf.Tensor1D | undefined;
  readonly names: readonly string[];
  readonly describe: string;
}

const states = new WeakMap<object, ReportState>();

function toRecord(names: readonly string[], data: ArrayLike<number>): Record<string, number> {
  const record: Record<string, number> = {};
  names.forEach((n, i) => (record[n] = data[i]!));
  return Object.freeze(record);
}

function ensure(state: ReportState): Record<string, number> {
  if (state.cached) return state.cached;
  if (!state.tensor) {
    throw new Error(`The values of ${state.describe} were released at the plugin's next report; read them inside your subscriber or keep the numbers you need.`);
  }
  state.cached = toRecord(state.names, state.tensor.dataSync());
  return state.cached;
}

function build<K extends string>(state: ReportState): ReportValues<K> {
  const target = {};
  for (const name of state.names) Object.defineProperty(target, name, { enumerable: true, get: () => ensure(state)[name] });
  Object.defineProperty(target, 'toJSON', { enumerable: false, value: () => state.cached ?? null });
  Object.freeze(target);
  states.set(target, state);
  return target as ReportValues<K>;
}

/** Report values known on the host (no device read ever). */
export function hostValues<K extends string>(values: Readonly<Record<K, number>>): ReportValues<K> {
  const names = Object.keys(values);
  return build<K>({ cached: Object.freeze({ ...values }), tensor: undefined, names, describe: 'a report' });
}

/**
 * Report values over a 1-D device tensor in `names` order; the caller owns `tensor` and calls `release` before
 * disposing it — `release(true)` reads the values first (the fit's last report stays readable after the fit).
 */
export function deviceValues<K extends string>(names: readonly K[], tensor: tf.Tensor1D, describe: string): { values: ReportValues<K>; release: (settle?: boolean) => void } {
  const state: ReportState = { cached: undefined, tensor, names, describe };
  return {
    values: build<K>(state),
    release: (settle = false) => {
      if (settle && state.tensor) ensure(state);
      state.tensor = undefined;
    },
  };
}

function stateOf(values: object): ReportState {
  const state = states.get(values);
  if (!state) throw new TypeError('Expected the values of a regulariser:report event.');
  return state;
}

/** Whether a report's values were already read back from the device (always `true` for host values). */
export function isReportRead(values: ReportValues): boolean {
  return stateOf(values).cached !== undefined;
}

/**
 * Reads a report's values without blocking the thread (GPU backends), as plain numbers.
 *
 * @example
 * ```ts
 * trainer.events$.pipe(ofType('regulariser:report')).subscribe(async (e) => console.log(e.name, await readReportAsync(e.values)));
 * ```
 */
export async function readReportAsync<V extends ReportValues>(values: V): Promise<V> {
  const state = stateOf(values);
  if (!state.cached && state.tensor) {
    const data = await state.tensor.data();
    state.cached ??= toRecord(state.names, data as Float32Array);
  }
  return ensure(state) as V;
}
