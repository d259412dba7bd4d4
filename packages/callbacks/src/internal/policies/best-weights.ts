import * as tf from '@tensorflow/tfjs';
import type { Json } from '@fitstream/core';

/**
 * Early stopping's copy of the best weights, by weight name, that survives a resume: checkpoints save it through the
 * plugin's `StateProvider` tensors (`plugins.bin`) and the names in its JSON state, so that a run resumed after its best
 * epoch still restores that epoch's weights.
 *
 * Saved names are matched to the resuming model's as core matches a checkpoint's weights: by name when all match,
 * otherwise by position (a model rebuilt in another process gets other layer names).
 */
export class BestWeights {
  private weights: Map<string, tf.Tensor> | undefined;
  /** Read by `setTensors` on resume; matched to the model at `bind`. */
  private loaded: { tensors: Map<string, tf.Tensor>; order: readonly string[] | undefined } | undefined;

  constructor(private readonly who: string) {}

  get present(): boolean {
    return this.weights !== undefined;
  }

  /** Replaces the copy (the old one is disposed: checkpoints clone what they are handed while they take it). */
  keep(weights: Map<string, tf.Tensor>): void {
    this.drop();
    this.weights = weights;
  }

  /** The copy's weight names in model order, for the JSON state; `null` without a copy. */
  names(): Json {
    return this.weights ? [...this.weights.keys()] : null;
  }

  /** What a checkpoint saves (not copies; the checkpoint clones them). */
  tensors(): tf.NamedTensorMap {
    return this.weights ? Object.fromEntries(this.weights) : {};
  }

  /** Keeps copies of a checkpoint's tensors (core disposes its own) until the fit binds them to the model. */
  load(tensors: tf.NamedTensorMap, order: readonly string[] | undefined): void {
    this.discardLoaded();
    const names = order?.every((n) => n in tensors) ? order : Object.keys(tensors);
    this.loaded = { tensors: new Map(names.map((n) => [n, tf.clone(tensors[n]!)])), order: names };
  }

  /**
   * At the start of a fit: a resumed fit adopts what `load` read, renamed to the model's weights where the names differ;
   * any other fit starts without a copy.
   */
  bind(resumed: boolean, model: ReadonlyMap<string, tf.Variable>): void {
    const loaded = this.loaded;
    this.loaded = undefined;
    this.drop();
    if (!loaded) return;
    if (!resumed) {
      tf.dispose([...loaded.tensors.values()]);
      return;
    }
    this.weights = this.matched(loaded.tensors, model);
  }

  /** Frees the copy. */
  drop(): void {
    if (this.weights) tf.dispose([...this.weights.values()]);
    this.weights = undefined;
  }

  /** Frees everything, a copy read from a checkpoint included. */
  dispose(): void {
    this.drop();
    this.discardLoaded();
  }

  /** The copy, as `control.restoreWeights` takes it. */
  get current(): ReadonlyMap<string, tf.Tensor> | undefined {
    return this.weights;
  }

  private discardLoaded(): void {
    if (this.loaded) tf.dispose([...this.loaded.tensors.values()]);
    this.loaded = undefined;
  }

  private matched(saved: Map<string, tf.Tensor>, model: ReadonlyMap<string, tf.Variable>): Map<string, tf.Tensor> {
    const current = [...model];
    if (current.every(([n]) => saved.has(n))) return saved;
    const savedList = [...saved];
    if (savedList.length !== current.length) {
      tf.dispose(savedList.map(([, t]) => t));
      throw new Error(`${this.who}: the checkpoint's best weights hold ${savedList.length} weights but the model has ${current.length}; resume with the model they were taken of.`);
    }
    const out = new Map<string, tf.Tensor>();
    current.forEach(([name, variable], i) => {
      const [savedName, tensor] = savedList[i]!;
      if (!tf.util.arraysEqual(tensor.shape, variable.shape)) {
        tf.dispose(savedList.map(([, t]) => t));
        throw new Error(`${this.who}: the checkpoint's best weight "${savedName}" has shape [${tensor.shape.join(', ')}] but the model's weight "${name}" has [${variable.shape.join(', ')}]; the architectures differ.`);
      }
      out.set(name, tensor);
    });
    return out;
  }
}
