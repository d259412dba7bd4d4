import * as tf from '@tensorflow/tfjs';
import type { Json } from '@fitstream/core';

const AVERAGE = 'average/';
const TRAINED = 'trained/';

/**
 * An average of some of a model's weights (EMA, SWA), keyed by weight name, and the weight view that swaps it in.
 *
 * Averages are immutable tensors: an update replaces them, never assigns in place, and a replaced tensor is only
 * retired, then disposed at the next safe point (`release`, called by the plugins as core loop events begin). Core
 * reads the tensors a `StateProvider` hands out asynchronously, while later subscribers of the same event may already
 * update the average; the retired tensor is what that checkpoint still reads.
 *
 * While the view is applied the model holds the averages and the trained values wait in `trainedWhileApplied`:
 * every read of "the trained weights" (`trained`) goes there, so an update or a finalize that runs while another
 * subscriber's checkpoint holds the view still sees and changes the trained weights, not the average.
 */
export class AveragedWeights {
  private averages = new Map<string, tf.Tensor>();
  private weights: ReadonlyMap<string, tf.Variable> | undefined;
  private trainedWhileApplied: Map<string, tf.Tensor> | undefined;
  /** Overlapping applications (two checkpoints written from one event): only the last restore puts weights back. */
  private depth = 0;
  private retired: tf.Tensor[] = [];
  /** Trained weights read from a checkpoint written under the view; written into the model at `bind`. */
  private restoredTrained: Map<string, tf.Tensor> | undefined;
  /** Set by `restore`: names still to match to the model's at `bind`, and the saving model's weight order. */
  private restored: { order: readonly string[] | undefined } | undefined;

  constructor(private readonly who: string) {}

  /** Number of averaged weights. */
  get size(): number {
    return this.averages.size;
  }

  has(name: string): boolean {
    return this.averages.has(name);
  }

  /**
   * Binds the store to the model's weights at the start of a fit. After a `restore`, saved names are matched to the
   * model's as core matches a checkpoint's weights: by name when all match, otherwise by position (a model rebuilt in
   * another process gets other layer names), and the trained weights saved beside an averaged checkpoint replace the
   * averaged ones core loaded into the model.
   */
  bind(weights: ReadonlyMap<string, tf.Variable>): void {
    this.weights = weights;
    const restored = this.restored;
    this.restored = undefined;
    const trained = this.restoredTrained;
    this.restoredTrained = undefined;
    if (!restored) return;
    try {
      const rename = this.renaming(weights, restored.order, [...this.averages.keys(), ...(trained?.keys() ?? [])]);
      if (rename) this.averages = new Map([...this.averages].map(([n, t]) => [rename(n), t]));
      if (trained) for (const [n, t] of trained) this.live(rename ? rename(n) : n).assign(t);
    } finally {
      if (trained) tf.dispose([...trained.values()]);
    }
  }

  /** The model's weight names in order, saved with the state so that a resume into a rebuilt model can match by position. */
  order(): string[] | undefined {
    return this.weights ? [...this.weights.keys()] : undefined;
  }

  private renaming(weights: ReadonlyMap<string, tf.Variable>, saved: readonly string[] | undefined, used: readonly string[]): ((name: string) => string) | undefined {
    if (used.every((n) => weights.has(n))) return undefined;
    const current = [...weights.keys()];
    if (!saved || saved.length !== current.length) {
      const missing = used.find((n) => !weights.has(n))!;
      throw new Error(`${this.who}: the checkpoint's average holds weight "${missing}", which this model lacks (and the weight counts differ); resume with the model the average was taken of.`);
    }
    const byPosition = new Map(saved.map((n, i) => [n, current[i]!]));
    return (name) => {
      const n = byPosition.get(name);
      if (n === undefined) throw new Error(`${this.who}: the checkpoint's average holds weight "${name}", which its model did not list; the checkpoint is inconsistent.`);
      return n;
    };
  }

  /** The trained value of a weight: the model's, or the one put aside while the view is applied. */
  trained(name: string): tf.Tensor {
    return this.trainedWhileApplied?.get(name) ?? this.live(name);
  }

  /** Starts a new average: each named weight's average is its trained value now. */
  reset(names: Iterable<string>): void {
    this.clear();
    for (const name of names) this.add(name);
  }

  /** Adds one weight to the average, starting from its trained value now. */
  add(name: string): void {
    if (this.averages.has(name)) return;
    this.averages.set(name, tf.clone(this.trained(name)));
  }

  /** Replaces every average by `step(average, trained)`, all in one `tf.tidy` (no device reads). */
  update(step: (average: tf.Tensor, trained: tf.Tensor) => tf.Tensor): void {
    const previous = this.averages;
    const next = tf.tidy(() => {
      const out: Record<string, tf.Tensor> = {};
      for (const [name, average] of previous) out[name] = step(average, this.trained(name));
      return out;
    });
    this.averages = new Map(Object.entries(next));
    for (const tensor of previous.values()) this.retired.push(tensor); // a loop: push(...many) can overflow the stack
  }

  /** The weight view: writes the averages into the model; the returned function puts the trained weights back. */
  apply(): () => void {
    if (this.averages.size === 0 || !this.weights) return () => {};
    if (this.depth++ === 0) {
      const saved = new Map<string, tf.Tensor>();
      for (const [name, average] of this.averages) {
        const variable = this.live(name);
        saved.set(name, tf.clone(variable));
        variable.assign(average);
      }
      this.trainedWhileApplied = saved;
    }
    let restored = false;
    return () => {
      if (restored) return;
      restored = true;
      if (--this.depth > 0) return;
      const saved = this.trainedWhileApplied!;
      this.trainedWhileApplied = undefined;
      for (const [name, t] of saved) this.live(name).assign(t);
      // Every checkpoint that was handed these tensors (`tensors()` under the view) has been written by now.
      tf.dispose([...saved.values()]);
    };
  }

  /** Makes the averages the trained weights (Keras `finalize_variable_values`), then drops them: the model holds them. */
  finalize(): void {
    for (const [name, average] of this.averages) {
      const saved = this.trainedWhileApplied;
      if (saved) {
        // A checkpoint holds the view: its restore will write what is put aside here.
        const old = saved.get(name);
        if (old) this.retired.push(old);
        saved.set(name, tf.clone(average));
      } else {
        this.live(name).assign(average);
      }
    }
    this.clear();
  }

  /** Copies of every model weight as it is with the view applied: averaged where averaged, trained elsewhere. */
  snapshot(): Map<string, tf.Tensor> {
    if (!this.weights) throw new Error(`${this.who}: no fit has run yet, so there are no averaged weights; read them during or after a fit.`);
    const out = new Map<string, tf.Tensor>();
    for (const name of this.weights.keys()) out.set(name, tf.clone(this.averages.get(name) ?? this.trained(name)));
    return out;
  }

  /** What a checkpoint saves: the averages, and the trained weights when the model holds the averages (view applied). */
  tensors(): tf.NamedTensorMap {
    const out: tf.NamedTensorMap = {};
    for (const [name, t] of this.averages) out[AVERAGE + name] = t;
    if (this.trainedWhileApplied) for (const [name, t] of this.trainedWhileApplied) out[TRAINED + name] = t;
    return out;
  }

  /**
   * Restores what {@link tensors} saved (the caller disposes `tensors`; clones share their data). `order` is the
   * saving model's weight names ({@link order}, kept in the plugin's state).
   */
  restore(tensors: tf.NamedTensorMap, order: readonly string[] | undefined): void {
    const averages = new Map<string, tf.Tensor>();
    const trained = new Map<string, tf.Tensor>();
    for (const [key, t] of Object.entries(tensors)) {
      if (key.startsWith(AVERAGE)) averages.set(key.slice(AVERAGE.length), tf.clone(t));
      else if (key.startsWith(TRAINED)) trained.set(key.slice(TRAINED.length), tf.clone(t));
    }
    this.clear();
    this.averages = averages;
    if (this.restoredTrained) tf.dispose([...this.restoredTrained.values()]);
    this.restoredTrained = trained.size > 0 ? trained : undefined;
    this.restored = { order };
  }

  /** Drops the averages (retired until the next safe point). */
  clear(): void {
    for (const tensor of this.averages.values()) this.retired.push(tensor);
    this.averages = new Map();
  }

  /** Disposes retired tensors. Call only where no checkpoint write can be in flight (a core loop event, fit teardown). */
  release(): void {
    if (this.retired.length === 0) return;
    tf.dispose(this.retired);
    this.retired = [];
  }

  /** Frees everything; the plugin starts afresh at its next fit. */
  dispose(): void {
    if (this.depth > 0) throw new Error(`${this.who}: dispose() was called while its averaged weights are applied (a checkpoint or evaluation is running); await it first.`);
    this.clear();
    this.release();
    if (this.restoredTrained) tf.dispose([...this.restoredTrained.values()]);
    this.restoredTrained = undefined;
    this.restored = undefined;
    this.weights = undefined;
  }

  private live(name: string): tf.Variable {
    const variable = this.weights?.get(name);
    if (!variable) {
      throw new Error(`${this.who}: the model has no weight "${name}" (averaged or saved in the checkpoint); resume with the model the average was taken of.`);
    }
    return variable;
  }
}

/** Reads the weight names {@link AveragedWeights.order} saved in a plugin's state. */
export function readNames(json: Json | undefined): string[] | undefined {
  return Array.isArray(json) && json.every((n) => typeof n === 'string') ? (json as string[]) : undefined;
}
