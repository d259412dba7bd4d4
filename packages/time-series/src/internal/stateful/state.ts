import * as tf from '@tensorflow/tfjs';

/** The part of a tfjs RNN layer that stateful handling needs. */
interface StatefulLayer {
  readonly name: string;
  readonly stateful: boolean;
  readonly states: (tf.Tensor | null)[];
  resetStates(states?: tf.Tensor | tf.Tensor[], training?: boolean): void;
}

/** A snapshot of every stateful layer's state (cloned tensors; dispose with {@link disposeState}). */
export interface StateSnapshot {
  readonly layers: readonly (readonly tf.Tensor[] | null)[];
}

function isStateful(layer: unknown): layer is StatefulLayer {
  const l = layer as Partial<StatefulLayer> | null;
  return l != null && l.stateful === true && typeof l.resetStates === 'function' && 'states' in l;
}

/** The stateful RNN layers of a model, nested models included, in a stable order. */
export function statefulLayers(model: tf.LayersModel): StatefulLayer[] {
  const out: StatefulLayer[] = [];
  const walk = (layers: readonly tf.layers.Layer[]) => {
    for (const layer of layers) {
      if (layer instanceof tf.LayersModel) walk(layer.layers);
      else if (isStateful(layer)) out.push(layer);
    }
  };
  walk(model.layers);
  return out;
}

/** The fixed batch size of a stateful model (from `batchInputShape`/`batchShape`), or `undefined` when it has none. */
export function modelBatchSize(model: tf.LayersModel): number | undefined {
  const b = model.inputs[0]?.shape[0];
  return typeof b === 'number' ? b : undefined;
}

/** Copies the current state of every stateful layer (`null` for a layer that has not run yet). */
export function snapshotState(model: tf.LayersModel): StateSnapshot {
  return { layers: statefulLayers(model).map((l) => (l.states.every((s) => s != null) ? l.states.map((s) => s!.clone()) : null)) };
}

/**
 * Sets every stateful layer's state to a snapshot (bit-exact), first freeing the states tfjs keeps for BPTT. The
 * snapshot stays the caller's.
 */
export function restoreState(model: tf.LayersModel, snapshot: StateSnapshot): void {
  const layers = statefulLayers(model);
  if (layers.length !== snapshot.layers.length) throw new Error(`restoreState: the snapshot has ${snapshot.layers.length} stateful layer(s), the model ${layers.length}.`);
  layers.forEach((layer, i) => {
    const states = snapshot.layers[i];
    layer.resetStates(); // no-argument reset: disposes the kept BPTT states too (tfjs keeps them until then)
    if (states) layer.resetStates([...states], false);
  });
}

/** Zeroes every stateful layer's state and frees the kept BPTT states. */
export function resetState(model: tf.LayersModel): void {
  for (const layer of statefulLayers(model)) layer.resetStates();
}

/** Disposes a snapshot's tensors. */
export function disposeState(snapshot: StateSnapshot | undefined): void {
  if (snapshot) for (const s of snapshot.layers) if (s) tf.dispose([...s]);
}

/**
 * Keeps the current state but frees the old states tfjs keeps after every training call (`keptStates`, freed only by a
 * no-argument `resetStates()`), so memory stays flat across the batches of an epoch.
 */
export function compactState(model: tf.LayersModel): void {
  const snapshot = snapshotState(model);
  try {
    restoreState(model, snapshot);
  } finally {
    disposeState(snapshot);
  }
}
