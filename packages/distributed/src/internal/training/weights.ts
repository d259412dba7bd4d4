import * as tf from '@tensorflow/tfjs';
import type { Communicator } from '../comm/communicator.js';
import { DistributedConfigError } from '../errors.js';

/** A stable layout of named tensors in one flat array: sorted names, shapes, offsets. */
export interface Layout {
  readonly names: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  readonly length: number;
}

export function layoutOf(tensors: ReadonlyMap<string, tf.Tensor> | Readonly<Record<string, tf.Tensor>>): Layout {
  const entries: [string, tf.Tensor][] = tensors instanceof Map ? [...(tensors as ReadonlyMap<string, tf.Tensor>)] : Object.entries(tensors as Readonly<Record<string, tf.Tensor>>);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const offsets: number[] = [];
  let length = 0;
  for (const [, t] of entries) {
    offsets.push(length);
    length += t.size;
  }
  return { names: entries.map(([n]) => n), shapes: entries.map(([, t]) => t.shape), offsets, sizes: entries.map(([, t]) => t.size), length };
}

/** 2 × 24-bit FNV-1a of the names and shapes: exact in float32, so ranks can compare layouts with one allgather. */
export function layoutHash(layout: Layout): [number, number] {
  const text = layout.names.map((n, i) => `${n}:${layout.shapes[i]!.join('x')}`).join('|');
  let h = 0x811c9dc5;
  let g = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    g = Math.imul(g ^ text.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  return [h & 0xffffff, g & 0xffffff];
}

/** Fails unless every rank has the same layout (same model on every replica). */
export function checkSameLayout(comm: Communicator, layout: Layout, what: string): void {
  if (comm.size === 1) return;
  const [a, b] = layoutHash(layout);
  const all = comm.allgather(Float32Array.of(a, b, layout.length));
  for (let r = 0; r < comm.size; r++) {
    if (all[3 * r] !== a || all[3 * r + 1] !== b || all[3 * r + 2] !== layout.length) {
      throw new DistributedConfigError(`${what}: rank ${r} has other variables than rank ${comm.rank} (${all[3 * r + 2]} vs ${layout.length} values, or other names/shapes); every replica must build the same model.`);
    }
  }
}

/** Reads named tensors into one flat array (one device read per tensor). */
export function flatten(layout: Layout, tensors: ReadonlyMap<string, tf.Tensor>, out = new Float32Array(layout.length)): Float32Array {
  layout.names.forEach((name, i) => {
    out.set(tensors.get(name)!.dataSync() as Float32Array, layout.offsets[i]);
  });
  return out;
}

/** Tensors from a flat array (copies). */
export function unflatten(layout: Layout, flat: Float32Array): Map<string, tf.Tensor> {
  return new Map(layout.names.map((name, i) => [name, tf.tensor(flat.slice(layout.offsets[i], layout.offsets[i]! + layout.sizes[i]!), layout.shapes[i] as number[])]));
}

/** What a plugin needs from `TrainerControl` to read and write weights. */
export interface WeightAccess {
  snapshotWeights(): Map<string, tf.Tensor>;
  restoreWeights(weights: ReadonlyMap<string, tf.Tensor>): void;
}

/** Applies `fn` to the model's weights as one flat array, writing the result back. */
export function withFlatWeights(control: WeightAccess, fn: (flat: Float32Array, layout: Layout) => Float32Array | void, check?: { comm: Communicator; what: string }): void {
  const snapshot = control.snapshotWeights();
  try {
    const layout = layoutOf(snapshot);
    if (check) checkSameLayout(check.comm, layout, check.what);
    const flat = flatten(layout, snapshot);
    const next = fn(flat, layout) ?? flat;
    const restored = unflatten(layout, next);
    try {
      control.restoreWeights(restored);
    } finally {
      tf.dispose([...restored.values()]);
    }
  } finally {
    tf.dispose([...snapshot.values()]);
  }
}

/** Copies rank `root`'s weights into every replica (after checking that all replicas have the same variables). */
export function broadcastWeights(comm: Communicator, control: WeightAccess, root = 0): void {
  if (comm.size === 1) return;
  withFlatWeights(control, (flat) => comm.broadcast(flat, root), { comm, what: 'broadcast of the initial weights' });
}

export function toBase64(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

export function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
